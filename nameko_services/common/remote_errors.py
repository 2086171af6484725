"""Our errors for nameko callers: each ``common.errors`` class registered with nameko.

nameko rebuilds a remote error as its own class only when that class was registered with
``deserialize_to_instance`` (its supported way); anything else arrives as a ``RemoteError``.
Registering here, not in ``common.errors``, keeps that module free of nameko. ``common.rpc``
(imported by every service) and ``common.shell`` call ``register_remote_errors`` when they are
imported, so a service calling another (``ServiceRpc``) and ``nameko shell`` get ``OutOfStock``
back with its details.
"""
from __future__ import annotations

from nameko.exceptions import deserialize_to_instance

from nameko_services.common.errors import REGISTRY


def register_remote_errors() -> None:
    """Register every class of ``common.errors.REGISTRY`` with nameko (again is harmless)."""
    for cls in REGISTRY.values():
        deserialize_to_instance(cls)
