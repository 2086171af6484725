"""The shopctl command line: arguments, messages and exit codes that need no servers."""
import io

import jwt
import pytest

from nameko_services.cli import _banner, build_parser, main


def test_token_takes_a_service_a_user_roles_and_a_lifetime():
    args = build_parser().parse_args(["token", "--service", "users", "--user-id", "u-1",
                                      "--roles", "admin", "--ttl", "600"])
    assert (args.service, args.user_id, args.roles, args.ttl) == ("users", "u-1", "admin", 600)


def test_migrate_accepts_each_database_or_all_and_nothing_else(capsys):
    assert build_parser().parse_args(["migrate"]).database == "all"
    assert build_parser().parse_args(["migrate", "--database", "orders"]).database == "orders"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["migrate", "--database", "users"])


def test_token_prints_a_service_token_signed_by_shopctl(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHOP_KEYS_DIR", str(tmp_path))
    assert main(["token", "--service", "catalog", "--user-id", "u-9", "--roles", "admin"]) == 0
    claims = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert (claims["iss"], claims["aud"], claims["sub"]) == ("shopctl", "catalog", "u-9")
    assert claims["exp"] - claims["iat"] == 3600


def test_create_admin_without_a_password_or_terminal_says_how_to_give_one(monkeypatch):
    monkeypatch.delenv("SHOP_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(SystemExit, match="SHOP_ADMIN_PASSWORD"):
        main(["create-admin", "--email", "root@example.com"])


def test_up_outside_the_project_folder_fails_with_a_message(tmp_path, capsys):
    assert main(["up", "--procfile", str(tmp_path / "Procfile")]) == 2
    assert "no Procfile" in capsys.readouterr().err


def test_up_restarts_crashed_processes_unless_told_to_exit_on_crash(capsys):
    assert build_parser().parse_args(["up"]).exit_on_crash is False
    assert build_parser().parse_args(["up", "--exit-on-crash"]).exit_on_crash is True
    with pytest.raises(SystemExit):
        build_parser().parse_args(["up", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "A process that exits is started again after 1 s, 2 s, 4 s" in help_text
    assert "restarted" in _banner({}) and "--exit-on-crash" in _banner({}, exit_on_crash=True)


def test_the_banner_shows_the_gateway_and_the_rabbitmq_console():
    banner = _banner({"SHOP_GATEWAY_PORT": "8080"})
    assert "http://127.0.0.1:8080" in banner
    assert "http://127.0.0.1:15672 (user guest, password guest)" in banner


def test_an_admin_password_the_policy_refuses_is_a_message_not_a_traceback(monkeypatch, capsys):
    from nameko_services.common.errors import WeakPassword

    def refuse(email, password):
        raise WeakPassword(details={"password": ["Must not contain the email address."]})

    monkeypatch.setattr("nameko_services.ops.bootstrap.create_admin", refuse)
    assert main(["create-admin", "--email", "admin@example.com", "--password", "admin password"]) == 2
    assert "password: Must not contain the email address." in capsys.readouterr().err


def test_replay_moves_dead_letters_of_the_given_queue_up_to_the_limit(monkeypatch, capsys):
    calls = []

    def replay(amqp_uri, queue, limit):
        calls.append((amqp_uri, queue, limit))
        return 3

    monkeypatch.setenv("SHOP_AMQP_URI", "amqp://guest:guest@broker:5672/shop")
    monkeypatch.setattr("nameko_services.common.events.replay_dead_letters", replay)
    queue = "evt-orders-order_placed--catalog.on_order_placed"
    assert main(["replay", "--queue", queue, "--limit", "5"]) == 0
    assert calls == [("amqp://guest:guest@broker:5672/shop", queue, 5)]
    assert "moved 3 message(s)" in capsys.readouterr().err


def test_replay_of_a_queue_without_dead_letters_names_the_missing_queue(monkeypatch, capsys):
    from amqp.exceptions import NotFound

    def replay(amqp_uri, queue, limit):
        raise NotFound("NOT_FOUND - no queue")

    monkeypatch.setattr("nameko_services.common.events.replay_dead_letters", replay)
    assert main(["replay", "--queue", "evt-typo"]) == 2
    assert "no queue evt-typo.dead-letter" in capsys.readouterr().err


def test_limits_and_lifetimes_below_one_are_refused():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["replay", "--queue", "q", "--limit", "0"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["token", "--service", "users", "--ttl", "-5"])
