"""Which services the platform trusts, and who may do what, come from config/services.yaml and the
environment: a new service needs a configuration change, not a code release."""
import os
import subprocess
import sys

import pytest

from nameko_services.common import auth, service_map
from nameko_services.common.service_map import ServiceMapError, parse, services_file

TODAY = ("gateway", "users", "catalog", "orders", "payments", "shopctl")


@pytest.fixture
def read_fresh(monkeypatch):
    """Read the map again (it is cached per process) after the test changed its environment."""
    def read():
        service_map.service_map.cache_clear()
        return service_map.service_map()
    yield read
    service_map.service_map.cache_clear()


def test_the_shipped_file_holds_todays_services_capabilities_and_probes(read_fresh, monkeypatch):
    for variable in ("SHOP_CONFIG_DIR", "SHOP_TRUSTED_SERVICES", "SHOP_ACT_AS_ADMIN_SERVICES",
                     "SHOP_READ_ALL_PAYMENTS_SERVICES", "SHOP_PRICE_ITEMS_SERVICES"):
        monkeypatch.delenv(variable, raising=False)
    loaded = read_fresh()
    assert loaded.trusted_services == TODAY
    assert loaded.capabilities == {auth.ACT_AS_ADMIN: {"shopctl"},
                                   auth.READ_ALL_PAYMENTS: {"orders", "shopctl"},
                                   auth.PRICE_ITEMS: {"orders", "shopctl"}}
    assert loaded.health_probes == {"users": "get_jwks", "catalog": "list_categories",
                                    "orders": "ping", "payments": "ping"}
    assert loaded.trusted_services == auth.TRUSTED_SERVICES  # what common.auth runs with


@pytest.mark.parametrize("value", ["gateway,users,catalog,orders,payments,shopctl,loyalty",
                                   "[gateway, users, catalog, orders, payments, shopctl, loyalty]"])
def test_a_new_service_is_trusted_by_setting_the_environment(read_fresh, monkeypatch, value):
    monkeypatch.setenv("SHOP_TRUSTED_SERVICES", value)
    monkeypatch.setenv("SHOP_PRICE_ITEMS_SERVICES", "orders,shopctl,loyalty")
    loaded = read_fresh()
    assert loaded.trusted_services == (*TODAY, "loyalty")
    assert loaded.capabilities[auth.PRICE_ITEMS] == {"orders", "shopctl", "loyalty"}


def test_the_folder_can_be_moved_and_the_file_edited(read_fresh, monkeypatch, tmp_path):
    (tmp_path / "services.yaml").write_text(
        "trusted_services: [gateway, loyalty]\ncapabilities:\n  act_as_admin: [loyalty]\n"
        "health_probes: {loyalty: ping}\n")
    monkeypatch.setenv("SHOP_CONFIG_DIR", str(tmp_path))
    loaded = read_fresh()
    assert services_file() == tmp_path / "services.yaml"
    assert (loaded.trusted_services, loaded.capabilities, loaded.health_probes) == (
        ("gateway", "loyalty"), {"act_as_admin": {"loyalty"}}, {"loyalty": "ping"})


@pytest.mark.parametrize(("document", "complaint"), [
    ({"trusted_services": None}, "a list of service names"),
    ({"trusted_services": ["gateway", "Not A Name"]}, "not service names"),
    ({"trusted_services": ["gateway"], "capabilities": {"act_as_admin": ["shopctl"]}},
     "are not trusted services"),
    ({"trusted_services": ["gateway"], "health_probes": ["users"]}, "health_probes"),
])
def test_a_map_no_process_may_run_with_is_refused_naming_the_problem(document, complaint):
    with pytest.raises(ServiceMapError, match=complaint):
        parse(document)


def test_a_capability_the_map_does_not_name_is_held_by_nobody(monkeypatch):
    monkeypatch.setattr(auth, "SERVICE_CAPABILITIES", parse({"trusted_services": ["orders"]}).capabilities)
    assert auth.Principal(service="orders").service_may(auth.PRICE_ITEMS) is False


VERIFY_LOYALTY = """
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nameko_services.common import auth
from nameko_services.common.keys import SigningKey
key = SigningKey("service-loyalty", Ed25519PrivateKey.generate())
token = auth.issue_service_token(key, service="loyalty", audience="orders")
try:
    principal = auth.verify_service_token(token, auth.key_map([key.public_key]), audience="orders")
    print(principal.service, principal.service_may(auth.PRICE_ITEMS))
except auth.NotAuthenticated:
    print("refused")
"""


@pytest.mark.parametrize(("environment", "answer"), [
    ({}, "refused"),
    ({"SHOP_TRUSTED_SERVICES": ",".join((*TODAY, "loyalty")), "SHOP_PRICE_ITEMS_SERVICES": "loyalty"},
     "loyalty True"),
])
def test_a_process_trusts_the_calls_of_a_service_its_configuration_names(environment, answer):
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHOP_")}
    done = subprocess.run([sys.executable, "-c", VERIFY_LOYALTY], env={**env, **environment},
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == answer, done.stderr
