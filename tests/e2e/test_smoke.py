"""The platform comes up and serves a customer end to end; an operator reaches the services."""
import subprocess

from tests.e2e.conftest import BIN, ROOT

SHELL_TIMEOUT = 60


def test_the_gateway_is_alive(client):
    assert client.get("/health").status_code == 200


def test_the_gateway_is_ready_and_every_service_answers(client):
    assert client.get("/ready").status_code == 200
    assert client.get("/health/services").json() == {"status": "ok", "services": {
        "users": "ok", "catalog": "ok", "orders": "ok", "payments": "ok"}}


def test_a_new_customer_signs_in_and_reads_their_profile(client, register_customer):
    user, token = register_customer(name="Grace")
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert (me.json()["id"], me.json()["email"], me.json()["name"]) == (user["id"], user["email"], "Grace")
    assert me.json()["roles"] == ["customer"]


def test_an_admin_made_by_ensure_admin_can_list_users(client, admin_token):
    listing = client.get("/api/v1/users", headers={"Authorization": f"Bearer {admin_token}"})
    assert listing.status_code == 200, listing.text
    assert listing.json()["total"] >= 1


def _nameko_shell(platform, script, **env):
    """Pipe ``script`` into `nameko shell --config config/shell.yaml` as an operator would."""
    done = subprocess.run([str(BIN / "nameko"), "shell", "--config", "config/shell.yaml"],
                          input=script, capture_output=True, text=True, cwd=ROOT,
                          env=platform.env | env, timeout=SHELL_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_an_operator_lists_users_from_nameko_shell_with_minted_tokens(platform, register_customer):
    user, _ = register_customer(name="Shell")
    out = _nameko_shell(platform, "\n".join([
        "from nameko_services.common.shell import connect",
        "rpc = connect()",
        "print('TOTAL', rpc.users.list_users(page=1, per_page=1)['total'] >= 1)",
        f"print('FOUND', rpc.users.get_user({user['id']!r})['email'])",
        "print('CATEGORIES', type(rpc.catalog.list_categories()).__name__)",
        "rpc.stop()",
        "",
    ]))
    assert "TOTAL True" in out
    assert f"FOUND {user['email']}" in out
    assert "CATEGORIES" in out


def test_a_token_from_shopctl_token_works_for_its_service_only(platform, register_customer):
    user, _ = register_customer(name="Token")
    minted = subprocess.run([str(BIN / "shopctl"), "token", "--service", "users", "--user-id", user["id"],
                             "--roles", "customer"], capture_output=True, text=True, cwd=ROOT,
                            env=platform.env, timeout=SHELL_TIMEOUT, check=True)
    out = _nameko_shell(platform, "\n".join([
        "from nameko_services.common.shell import connect",
        "rpc = connect()",
        "print('ME', rpc.users.get_me()['id'])",
        "try:",
        "    rpc.catalog.list_categories()",
        "except Exception as exc:",
        "    print('REFUSED', type(exc).__name__, getattr(exc, 'exc_type', ''))",
        "",
        "rpc.stop()",
        "",
    ]), SHOP_TOKEN=minted.stdout.strip())
    assert f"ME {user['id']}" in out
    assert "REFUSED" in out and "NotAuthenticated" in out, out


def test_shopctl_trace_shows_a_confirmed_orders_way_through_every_service(platform, client, register_customer,
                                                                           product):
    from tests.e2e.saga_support import FINAL, place, wait_for

    _, token = register_customer(name="Traced")
    order = wait_for(client, token, place(client, token, product()["id"]).json()["id"], FINAL)
    assert order["status"] == "confirmed"
    traced = subprocess.run([str(BIN / "shopctl"), "trace", order["id"]], capture_output=True, text=True,
                            cwd=ROOT, env=platform.env, timeout=SHELL_TIMEOUT)
    assert traced.returncode == 0, traced.stdout + traced.stderr
    out = traced.stdout
    print(out)  # the README's example comes from here (pytest -s)
    assert out.startswith(f"order {order['id']}: confirmed, payment paid")
    for step in ("v1 OrderPlaced", "<- orders.order_placed handled by catalog.on_order_placed",
                 "<- catalog.stock_reserved handled by orders.on_stock_reserved",
                 "<- orders.payment_requested handled by payments.on_payment_requested",
                 "PaymentCaptured", "<- payments.payment_captured handled by orders.on_payment_captured",
                 "<- orders.order_confirmed handled by catalog.on_order_confirmed", "reservation committed"):
        assert step in out
    assert "unpublished outbox rows: none" in out and "dead letters: none" in out
