"""Who calls the catalog in its integration tests, and how."""
import uuid

from nameko.standalone.rpc import ClusterRpcProxy

from nameko_services.common import auth, keys

ADMIN = ("00000000-0000-4000-8000-0000000000ad", ["customer", "admin"])
CUSTOMER = ("00000000-0000-4000-8000-0000000000c1", ["customer"])


def service_token(service="orders"):
    """A token signed as ``service`` for the catalog, with no end user."""
    return auth.issue_service_token(keys.load_signing_key(f"service-{service}"), service=service,
                                    audience="catalog")


def call_concurrently(rabbit_config, calls):
    """Send every ``(method, args)`` at once as the orders service; return results or errors."""
    context = {"authorization": service_token(), "correlation_id": uuid.uuid4().hex}
    with ClusterRpcProxy(rabbit_config, context_data=context, timeout=60) as proxy:
        replies = [getattr(proxy.catalog, method).call_async(*args) for method, args in calls]
        outcomes = []
        for reply in replies:
            try:
                outcomes.append(reply.result())
            except Exception as error:  # noqa: BLE001 - the outcome is what the test counts
                outcomes.append(error)
        return outcomes
