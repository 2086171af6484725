"""shopctl register-client / list-clients / disable-client: parsing and output (ops functions faked)."""
import pytest

from nameko_services.cli import build_parser, main
from nameko_services.common.errors import ClientNotFound, InvalidInput
from nameko_services.ops import clients

ROBOT = {"client_id": "c0ffee", "name": "Robot", "type": "confidential", "redirect_uris": [],
         "grant_types": ["client_credentials"], "scopes": ["catalog:write"], "created_at": None,
         "disabled": False}


def test_register_client_takes_repeatable_uris_scopes_and_grants():
    args = build_parser().parse_args(["register-client", "--name", "App", "--type", "public",
                                      "--redirect-uri", "https://a.test/cb", "--redirect-uri",
                                      "http://127.0.0.1/cb", "--scope", "shop", "--grant",
                                      "authorization_code"])
    assert (args.name, args.type, args.redirect_uri, args.scope, args.grant) == (
        "App", "public", ["https://a.test/cb", "http://127.0.0.1/cb"], ["shop"], ["authorization_code"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["register-client", "--name", "App", "--type", "trusted"])


def test_register_client_prints_the_id_and_the_secret_once(monkeypatch, capsys):
    seen = {}

    def register(name, type_, uris, grants, scopes):
        seen.update(name=name, type=type_, uris=uris, grants=grants, scopes=scopes)
        return ROBOT, "the-secret"
    monkeypatch.setattr(clients, "register_client", register)
    assert main(["register-client", "--name", "Robot", "--type", "confidential", "--scope",
                 "catalog:write"]) == 0
    out = capsys.readouterr()
    assert out.out == "client_id: c0ffee\nclient_secret: the-secret\n" and "cannot be shown again" in out.err
    assert seen == {"name": "Robot", "type": "confidential", "uris": [], "grants": [],
                    "scopes": ["catalog:write"]}


def test_a_refused_registration_names_each_bad_field(monkeypatch, capsys):
    def register(*args):
        raise InvalidInput("The client registration is invalid.",
                           {"redirect_uris": ["'http://a.test': Must use https."]})
    monkeypatch.setattr(clients, "register_client", register)
    assert main(["register-client", "--name", "A", "--type", "public",
                 "--redirect-uri", "http://a.test"]) == 2
    assert "redirect_uris: 'http://a.test': Must use https." in capsys.readouterr().err


def test_list_clients_prints_one_line_per_client(monkeypatch, capsys):
    disabled = {**ROBOT, "client_id": "beef", "disabled": True}
    monkeypatch.setattr(clients, "list_clients", lambda: [ROBOT, disabled])
    assert main(["list-clients"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in lines] == [["c0ffee", "confidential", "active"],
                                                     ["beef", "confidential", "disabled"]]


def test_disabling_an_unknown_client_fails_with_exit_code_2(monkeypatch, capsys):
    def disable(client_id):
        raise ClientNotFound(details={"client_id": client_id})
    monkeypatch.setattr(clients, "disable_client", disable)
    assert main(["disable-client", "nope"]) == 2
    assert "OAuth client not found" in capsys.readouterr().err
