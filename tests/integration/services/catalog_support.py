"""Who calls the catalog in its integration tests, and how."""
from nameko_services.common import auth, keys

ADMIN = ("00000000-0000-4000-8000-0000000000ad", ["customer", "admin"])
CUSTOMER = ("00000000-0000-4000-8000-0000000000c1", ["customer"])


def service_token(service="orders"):
    """A token signed as ``service`` for the catalog, with no end user."""
    return auth.issue_service_token(keys.load_signing_key(f"service-{service}"), service=service,
                                    audience="catalog")

