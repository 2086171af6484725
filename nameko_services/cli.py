"""shopctl: run the platform on one machine and operate it.

    shopctl up [--exit-on-crash]    infrastructure, databases, keys, then every Procfile process
                                    (a crashed one restarts after 1 s, 2 s, 4 s ... 30 s;
                                    --exit-on-crash: the first exit stops them all)
    shopctl migrate [--database D]  create missing databases and migrate them to head
    shopctl create-admin --email E  make sure an admin account exists (password: flag, env or prompt)
    shopctl token --service S       a service token for `nameko shell` calls to S
    shopctl replay --queue Q [--resign]
                                    move dead-lettered events back to handler queue Q (re-signing
                                    genuine events too old to be accepted)
    shopctl register-client --name N --type public|confidential [--redirect-uri U ...]
                            [--scope S ...] [--grant G ...]
                                    register an OAuth client; prints its id (and secret, once)
    shopctl list-clients            every OAuth client
    shopctl disable-client ID       an OAuth client gets no more tokens
    shopctl migrate-queues [--to quorum|classic] [--dry-run]
                                    with the services stopped: give existing queues the type the
                                    services declare (SHOP_QUEUE_TYPE), keeping messages and bindings
    shopctl rebuild-projections [--service orders|payments|all] [--check]
                                    recompute projection tables from the event stores
                                    (--check: change nothing, exit 1 if rows differ)
    shopctl trace ORDER [--no-broker]
                                    one order's timeline across the services: its events, stock,
                                    payments, outbox rows (published or not), handlers, dead letters
    shopctl attention list          orders needing attention: id, status, since, reason
    shopctl attention retry ORDER   ask again for an order's failed void/refund
    shopctl rotate-key --name access|service-<svc> [--stage] [--retire [--older-than S]] [--no-new-key]
                                    --stage publishes a next key; rotating makes it (or a new one)
                                    sign; the old one verifies until --retire drops it
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

UP_HELP = ("Check the infrastructure, migrate the databases, make the keys, then run every Procfile "
           "process with prefixed output. {crashes}")
GATEWAY_URL = "http://{host}:{port}"
CONSOLE_URL = "{root} (user {user}, password {password})"


def _say(message: str) -> None:
    print(f"shopctl: {message}", file=sys.stderr, flush=True)


def _databases(choice: str) -> list[str]:
    from nameko_services.common.migrate import DATABASES

    return list(DATABASES) if choice == "all" else [choice]


def cmd_ensure_infra(args: argparse.Namespace) -> int:
    from nameko_services.ops.infra import ensure_infrastructure

    ensure_infrastructure()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from nameko_services.ops.bootstrap import prepare_databases

    prepare_databases(_databases(args.database), _say)
    return 0


def _admin_password(args: argparse.Namespace) -> str:
    password = args.password or os.environ.get("SHOP_ADMIN_PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        raise SystemExit("shopctl: give --password or set SHOP_ADMIN_PASSWORD (no terminal to ask on)")
    return getpass.getpass("Admin password: ")


def cmd_create_admin(args: argparse.Namespace) -> int:
    from nameko_services.ops.bootstrap import create_admin

    email = args.email or os.environ.get("SHOP_ADMIN_EMAIL")
    if not email:
        raise SystemExit("shopctl: give --email or set SHOP_ADMIN_EMAIL")
    print(create_admin(email, _admin_password(args)))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from nameko_services.ops.tokens import mint, parse_roles

    print(mint(args.service, user_id=args.user_id, roles=parse_roles(args.roles), ttl=args.ttl))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from amqp.exceptions import NotFound

    from nameko_services.common.event_auth import DEFAULT_EVENT_TOKEN_MAX_AGE
    from nameko_services.common.event_keys import event_resigner
    from nameko_services.common.events import dead_letter_queue_name, replay_dead_letters
    from nameko_services.ops.endpoints import amqp_uri

    dead_letters = dead_letter_queue_name(args.queue)
    try:
        if args.resign:  # needs the emitting service's private key
            max_age = int(os.environ.get("SHOP_EVENT_TOKEN_MAX_AGE", DEFAULT_EVENT_TOKEN_MAX_AGE))
            resign = event_resigner(args.queue, max_age)
            moved = replay_dead_letters(amqp_uri(os.environ), args.queue, args.limit, resign=resign)
        else:
            moved = replay_dead_letters(amqp_uri(os.environ), args.queue, args.limit)
    except ValueError as exc:
        _say(str(exc))
        return 2
    except NotFound:
        _say(f"there is no queue {dead_letters} on this broker: give the handler queue's name "
             "as the RabbitMQ console shows it (evt-<source>-<event>--<service>.<handler>)")
        return 2
    _say(f"moved {moved} message(s) from {dead_letters} back to {args.queue}")
    return 0


def cmd_migrate_queues(args: argparse.Namespace) -> int:
    from nameko_services.common.queues import queue_type
    from nameko_services.ops.endpoints import amqp_uri, management_url
    from nameko_services.ops.queue_migration import ServicesRunning, migrate_queues

    broker = amqp_uri(os.environ)
    kind = args.to or queue_type({"QUEUE_TYPE": os.environ.get("SHOP_QUEUE_TYPE")})
    try:
        migrate_queues(broker, kind, _say, management=management_url(broker.split(";")[0], os.environ),
                       dry_run=args.dry_run)
    except ServicesRunning as exc:
        _say(str(exc))
        return 2
    return 0


def cmd_rebuild_projections(args: argparse.Namespace) -> int:
    from nameko_services.ops.projections import SERVICES, DatabaseUnreachable, rebuild_projections

    services = list(SERVICES) if args.service == "all" else [args.service]
    try:
        reports = rebuild_projections(services, apply=not args.check)
    except DatabaseUnreachable as exc:
        _say(str(exc))
        return 2
    for report in reports:
        print(report.summary())
        for difference in report.differences[:args.show]:
            print(f"  {difference.describe()}")
        if len(report.differences) > args.show:
            print(f"  ... and {len(report.differences) - args.show} more")
    return 1 if args.check and any(report.differences for report in reports) else 0


def cmd_trace(args: argparse.Namespace) -> int:
    from requests import RequestException
    from sqlalchemy.exc import OperationalError

    from nameko_services.ops import trace

    try:
        found = trace.from_environment(args.order_id, with_broker=not args.no_broker)
    except (OperationalError, RequestException) as exc:
        _say(f"cannot read the platform's state: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
        return 2
    print(trace.render(found))
    return 0 if found.entries else 1


def cmd_attention(args: argparse.Namespace) -> int:
    from nameko_services.ops import attention

    try:
        with attention.OrdersClient(os.environ, timeout=args.timeout) as call:
            if args.action == "list":
                items = attention.list_attention(call)
                print(attention.table(items) if items else "no order needs attention")
                return 0
            order = attention.retry(call, args.order_id)
    except attention.OrdersUnreachable as exc:
        _say(str(exc))
        return 2
    _say(f"order {order['id']} ({order['status']}): compensation requested again")
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    from nameko_services.ops import keys

    try:
        if args.stage:
            _say(f"{args.name}: next key {keys.stage(args.name)} staged: it verifies now and signs "
                 "after the next rotate-key")
        elif not args.no_new_key:
            rotation = keys.rotate(args.name)
            _say(f"{args.name}: new key {rotation.current_kid} signs; previous key "
                 f"{rotation.previous_kid or '(none)'} still verifies")
        if args.retire:
            retired = keys.retire(args.name, args.older_than)
            _say(f"{args.name}: retired {', '.join(retired) if retired else 'no key'}")
    except keys.RotationRefused as exc:
        _say(str(exc))
        return 2
    return 0


def cmd_register_client(args: argparse.Namespace) -> int:
    from nameko_services.ops.clients import register_client

    client, secret = register_client(args.name, args.type, args.redirect_uri, args.grant, args.scope)
    print(f"client_id: {client['client_id']}")
    if secret:
        print(f"client_secret: {secret}")
        _say("store the secret now: it is kept only as a hash and cannot be shown again")
    return 0


def cmd_list_clients(args: argparse.Namespace) -> int:
    from nameko_services.ops.clients import list_clients, table

    print(table(list_clients()))
    return 0


def cmd_disable_client(args: argparse.Namespace) -> int:
    from nameko_services.ops.clients import disable_client

    disable_client(args.client_id)
    _say(f"client {args.client_id} is disabled")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _banner(env: Mapping[str, str], exit_on_crash: bool = False) -> str:
    from nameko_services.ops.endpoints import amqp_credentials, amqp_uri, management_url

    broker = amqp_uri(env)
    user, password = amqp_credentials(broker)
    gateway = GATEWAY_URL.format(host=env.get("SHOP_GATEWAY_HOST", "127.0.0.1"),
                                 port=env.get("SHOP_GATEWAY_PORT", "8000"))
    shown = password if password == "guest" else "as in SHOP_AMQP_URI"  # never print a real secret
    console = CONSOLE_URL.format(root=management_url(broker, env), user=user, password=shown)
    return (f"gateway:          {gateway}  (API docs: {gateway}/api/v1/openapi.json)\n"
            f"RabbitMQ console: {console}\n"
            + ("Ctrl-C stops everything; so does any process exiting (--exit-on-crash)." if exit_on_crash
               else "Ctrl-C stops everything; a process that crashes is restarted (with back-off)."))


def _queues_of_the_configured_type() -> None:
    """Before `up` starts the services: queues left as another type are migrated (as `shopctl
    migrate-queues`), else the services would refuse to start; never fatal here."""
    import requests

    from nameko_services.common.queues import queue_type
    from nameko_services.ops.endpoints import amqp_uri, management_url
    from nameko_services.ops.queue_migration import ServicesRunning, migrate_queues

    broker = amqp_uri(os.environ)
    kind = queue_type({"QUEUE_TYPE": os.environ.get("SHOP_QUEUE_TYPE")})
    try:
        migrate_queues(broker, kind, _say, management=management_url(broker.split(";")[0], os.environ))
    except (ServicesRunning, requests.RequestException, OSError) as exc:
        _say(f"queues not checked for their type ({exc}); see `shopctl migrate-queues`")


def cmd_up(args: argparse.Namespace) -> int:
    from nameko_services.common.auth import ensure_signing_keys
    from nameko_services.ops import bootstrap, procfile, runner
    from nameko_services.ops.infra import ensure_infrastructure

    root = Path(args.procfile).resolve().parent
    processes = procfile.read(args.procfile)
    os.chdir(root)  # config/, var/keys and the Procfile's relative paths all start here
    ensure_infrastructure()
    bootstrap.prepare_databases(_databases("all"), _say)
    _queues_of_the_configured_type()
    email, password = os.environ.get("SHOP_ADMIN_EMAIL"), os.environ.get("SHOP_ADMIN_PASSWORD")
    if email and password:
        _say(f"admin {email}: {bootstrap.create_admin(email, password)}")
    _say(f"signing keys ready: {', '.join(ensure_signing_keys())}")
    print(_banner(os.environ, args.exit_on_crash), flush=True)
    env = procfile.process_env(os.environ, Path(sys.executable).parent)
    return runner.run_processes(processes, env, root, exit_on_crash=args.exit_on_crash)


def build_parser() -> argparse.ArgumentParser:
    """The ``shopctl`` command line."""
    from nameko_services.common.migrate import DATABASES
    from nameko_services.ops.runner import crash_behaviour

    parser = argparse.ArgumentParser(prog="shopctl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="{up,migrate,create-admin,token,replay,migrate-queues,rebuild-projections,attention,"
                                             "register-client,list-clients,disable-client,rotate-key}")
    up = commands.add_parser("up", help="prepare everything and run all processes",
                             description=UP_HELP.format(crashes=crash_behaviour()))
    up.add_argument("--procfile", default="Procfile")
    up.add_argument("--exit-on-crash", action="store_true",
                    help="stop every process as soon as one exits, with its exit code (CI, scripts)")
    up.set_defaults(handler=cmd_up)
    migrate = commands.add_parser("migrate", help="create databases and migrate them to head")
    migrate.add_argument("--database", choices=[*DATABASES, "all"], default="all")
    migrate.set_defaults(handler=cmd_migrate)
    admin = commands.add_parser("create-admin", help="make sure an admin account exists")
    admin.add_argument("--email", help="default $SHOP_ADMIN_EMAIL")
    admin.add_argument("--password", help="default $SHOP_ADMIN_PASSWORD, else asked for")
    admin.set_defaults(handler=cmd_create_admin)
    token = commands.add_parser("token", help="print a service token for calls from nameko shell")
    token.add_argument("--service", required=True, help="the service the token is for (aud)")
    token.add_argument("--user-id", help="the end user the calls act for")
    token.add_argument("--roles", default="", help="comma-separated roles of that user")
    token.add_argument("--ttl", type=_positive, default=3600,
                       help="seconds the token is valid (default 3600)")
    token.set_defaults(handler=cmd_token)
    replay = commands.add_parser("replay", help="move dead-lettered events back to their handler queue")
    replay.add_argument("--queue", required=True,
                        help="the handler queue, e.g. evt-orders-order_placed--catalog.on_order_placed")
    replay.add_argument("--limit", type=_positive, help="move at most this many (default: all)")
    replay.add_argument("--resign", action="store_true",
                        help="give genuine events a fresh token (those refused as too old); "
                             "needs the emitting service's key; forged ones stay dead-lettered")
    replay.set_defaults(handler=cmd_replay)
    queues = commands.add_parser("migrate-queues", help="give existing queues the configured type "
                                                        "(services stopped; messages and bindings kept)")
    queues.add_argument("--to", choices=["quorum", "classic"],
                        help="the type (default $SHOP_QUEUE_TYPE, else quorum)")
    queues.add_argument("--dry-run", action="store_true", help="only list the queues it would migrate")
    queues.set_defaults(handler=cmd_migrate_queues)
    rebuild = commands.add_parser("rebuild-projections",
                                  help="recompute the orders/payments tables from their events")
    rebuild.add_argument("--service", choices=["orders", "payments", "all"], default="all")
    rebuild.add_argument("--check", action="store_true",
                         help="change nothing; list rows that differ, exit 1 if any")
    rebuild.add_argument("--show", type=_positive, default=20, help="differing rows to print (default 20)")
    rebuild.set_defaults(handler=cmd_rebuild_projections)
    traced = commands.add_parser("trace", help="one order's timeline across the services")
    traced.add_argument("order_id")
    traced.add_argument("--no-broker", action="store_true", help="skip the dead-letter queues")
    traced.set_defaults(handler=cmd_trace)
    attention = commands.add_parser("attention", help="orders whose compensation keeps failing")
    actions = attention.add_subparsers(dest="action", required=True, metavar="{list,retry}")
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument("--timeout", type=_positive, default=30,
                         help="seconds to wait for the orders service (default 30)")
    actions.add_parser("list", parents=[waiting], help="order id, status, since when, reason")
    retry = actions.add_parser("retry", parents=[waiting],
                               help="ask again for the failed void/refund of one order")
    retry.add_argument("order_id")
    attention.set_defaults(handler=cmd_attention)
    register = commands.add_parser("register-client", help="register an OAuth client")
    register.add_argument("--name", required=True)
    register.add_argument("--type", required=True, choices=["public", "confidential"])
    register.add_argument("--redirect-uri", action="append", default=[], help="exact URI; repeatable")
    register.add_argument("--scope", action="append", default=[], help="repeatable, e.g. catalog:write")
    register.add_argument("--grant", action="append", default=[],
                          help="authorization_code, refresh_token or client_credentials; repeatable "
                               "(default: public authorization_code+refresh_token, "
                               "confidential client_credentials)")
    register.set_defaults(handler=cmd_register_client)
    commands.add_parser("list-clients", help="every OAuth client").set_defaults(handler=cmd_list_clients)
    disable = commands.add_parser("disable-client", help="an OAuth client gets no more tokens")
    disable.add_argument("client_id")
    disable.set_defaults(handler=cmd_disable_client)
    rotate = commands.add_parser("rotate-key", help="rotate a signing key without downtime")
    rotate.add_argument("--name", required=True, help="access, or service-<service>")
    rotate.add_argument("--retire", action="store_true",
                        help="delete previous keys older than the longest token they signed")
    rotate.add_argument("--older-than", type=float, metavar="SECONDS",
                        help="with --retire: this age instead (0 drops every previous key: a leaked key)")
    rotate.add_argument("--stage", action="store_true",
                        help="only publish a next key (signs after the next rotate-key): no cache misses it")
    rotate.add_argument("--no-new-key", action="store_true", help="only --retire")
    rotate.set_defaults(handler=cmd_rotate_key)
    # Used by `make test`; not part of the documented interface.
    infra = commands.add_parser("ensure-infra")
    infra.set_defaults(handler=cmd_ensure_infra)
    return parser


def _detail(value: object) -> str:
    # Validation errors are lists of messages; other details (an order id) are one value.
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shopctl`` console script."""
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    from nameko_services.common.errors import ServiceError
    from nameko_services.ops.infra import InfrastructureUnavailable
    from nameko_services.ops.procfile import ProcfileError

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (InfrastructureUnavailable, ProcfileError) as exc:
        print(f"shopctl: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:  # e.g. an admin password the policy refuses
        details = "".join(f"\n  {field}: {_detail(msgs)}" for field, msgs in exc.details.items())
        print(f"shopctl: {exc}{details}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
