"""shopctl: run the platform on one machine and operate it.

    shopctl up                      infrastructure, databases, keys, then every Procfile process
    shopctl migrate [--database D]  create missing databases and migrate them to head
    shopctl create-admin --email E  make sure an admin account exists (password: flag, env or prompt)
    shopctl token --service S       a service token for `nameko shell` calls to S
    shopctl replay --queue Q        move dead-lettered events back to handler queue Q
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

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

    from nameko_services.common.events import dead_letter_queue_name, replay_dead_letters
    from nameko_services.ops.endpoints import amqp_uri

    dead_letters = dead_letter_queue_name(args.queue)
    try:
        moved = replay_dead_letters(amqp_uri(os.environ), args.queue, args.limit)
    except NotFound:
        _say(f"there is no queue {dead_letters} on this broker: give the handler queue's name "
             "as the RabbitMQ console shows it (evt-<source>-<event>--<service>.<handler>)")
        return 2
    _say(f"moved {moved} message(s) from {dead_letters} back to {args.queue}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _banner(env: Mapping[str, str]) -> str:
    from nameko_services.ops.endpoints import amqp_credentials, amqp_uri, management_url

    broker = amqp_uri(env)
    user, password = amqp_credentials(broker)
    gateway = GATEWAY_URL.format(host=env.get("SHOP_GATEWAY_HOST", "127.0.0.1"),
                                 port=env.get("SHOP_GATEWAY_PORT", "8000"))
    shown = password if password == "guest" else "as in SHOP_AMQP_URI"  # never print a real secret
    console = CONSOLE_URL.format(root=management_url(broker, env), user=user, password=shown)
    return (f"gateway:          {gateway}  (API docs: {gateway}/api/v1/openapi.json)\n"
            f"RabbitMQ console: {console}\n"
            "Ctrl-C stops everything.")


def cmd_up(args: argparse.Namespace) -> int:
    from nameko_services.common.auth import ensure_signing_keys
    from nameko_services.ops import bootstrap, procfile, runner
    from nameko_services.ops.infra import ensure_infrastructure

    root = Path(args.procfile).resolve().parent
    processes = procfile.read(args.procfile)
    os.chdir(root)  # config/, var/keys and the Procfile's relative paths all start here
    ensure_infrastructure()
    bootstrap.prepare_databases(_databases("all"), _say)
    email, password = os.environ.get("SHOP_ADMIN_EMAIL"), os.environ.get("SHOP_ADMIN_PASSWORD")
    if email and password:
        _say(f"admin {email}: {bootstrap.create_admin(email, password)}")
    _say(f"signing keys ready: {', '.join(ensure_signing_keys())}")
    print(_banner(os.environ), flush=True)
    env = procfile.process_env(os.environ, Path(sys.executable).parent)
    return runner.run_processes(processes, env, root)


def build_parser() -> argparse.ArgumentParser:
    """The ``shopctl`` command line."""
    from nameko_services.common.migrate import DATABASES

    parser = argparse.ArgumentParser(prog="shopctl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="{up,migrate,create-admin,token,replay}")
    up = commands.add_parser("up", help="prepare everything and run all processes")
    up.add_argument("--procfile", default="Procfile")
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
    replay.set_defaults(handler=cmd_replay)
    # Used by `make test`; not part of the documented interface.
    infra = commands.add_parser("ensure-infra")
    infra.set_defaults(handler=cmd_ensure_infra)
    return parser


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
        details = "".join(f"\n  {field}: {' '.join(map(str, msgs))}" for field, msgs in exc.details.items())
        print(f"shopctl: {exc}{details}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
