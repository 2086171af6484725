"""Which services may call what is one map (common.auth), and every service reads it."""
import pathlib
import re

import pytest

from nameko_services.common.auth import (
    ACT_AS_ADMIN,
    PRICE_ITEMS,
    READ_ALL_PAYMENTS,
    SERVICE_CAPABILITIES,
    TRUSTED_SERVICES,
    Principal,
)

SOURCES = pathlib.Path(__file__).parents[3] / "nameko_services"
# A set of service names written out, like frozenset({"orders", "shopctl"}).
NAMES = "|".join(TRUSTED_SERVICES)
SERVICE_SET = re.compile(r"""\{\s*["'](?:""" + NAMES + r""")["']\s*[,}]""")


def test_every_capability_is_held_only_by_trusted_services():
    assert all(services <= set(TRUSTED_SERVICES) for services in SERVICE_CAPABILITIES.values())


@pytest.mark.parametrize(("capability", "service", "has_it"), [
    (ACT_AS_ADMIN, "shopctl", True), (ACT_AS_ADMIN, "orders", False), (ACT_AS_ADMIN, "gateway", False),
    (READ_ALL_PAYMENTS, "orders", True), (READ_ALL_PAYMENTS, "shopctl", True),
    (READ_ALL_PAYMENTS, "gateway", False), (PRICE_ITEMS, "orders", True), (PRICE_ITEMS, "shopctl", True),
    (PRICE_ITEMS, "gateway", False), (PRICE_ITEMS, None, False)])
def test_a_call_has_a_capability_only_when_the_service_relaying_it_does(capability, service, has_it):
    assert Principal(service=service).service_may(capability) is has_it


def test_no_module_but_common_auth_keeps_a_set_of_service_names():
    found = [str(path.relative_to(SOURCES)) for path in SOURCES.rglob("*.py")
             if SERVICE_SET.search(path.read_text()) and path.name != "auth.py"]
    assert found == []
