"""Modules the gateway and the domain import load neither nameko, eventlet nor SQLAlchemy.

Each is imported alone in a fresh interpreter: a module already loaded by this test process
(or by another test) would hide what the import itself pulls in.
"""
import subprocess
import sys

import pytest

PURE_MODULES = [
    "nameko_services.common.errors",
    "nameko_services.common.limits",
    "nameko_services.common.pagination",
    "nameko_services.common.validation",
    "nameko_services.common.address",
    "nameko_services.common.text",
    "nameko_services.common.trace_context",
    "nameko_services.common.telemetry",
    "nameko_services.common.spans",
    "nameko_services.users.domain",
    "nameko_services.catalog.domain",
    "nameko_services.orders.domain",
    "nameko_services.payments.domain",
]
FORBIDDEN = ("nameko", "eventlet", "sqlalchemy")


def loaded_packages(module):
    """The forbidden top-level packages in ``sys.modules`` after importing ``module`` alone."""
    script = (f"import sys, {module}; "
              f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & {set(FORBIDDEN)!r})))")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True).stdout.split()


@pytest.mark.parametrize("module", PURE_MODULES)
def test_importing_the_module_loads_neither_nameko_nor_eventlet_nor_sqlalchemy(module):
    assert loaded_packages(module) == []
