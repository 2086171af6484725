"""Services in nameko containers against the real RabbitMQ and PostgreSQL.

eventlet must patch the standard library before anything else imports it.
"""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402

from nameko_services.common import auth, keys, migrate  # noqa: E402
from nameko_services.common.dbadmin import create_database, drop_database  # noqa: E402
from nameko_services.common.testing import temporary_keys  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def keys_dir(tmp_path_factory):
    """Fresh signing keys for the session, so tests never touch var/keys."""
    with temporary_keys(tmp_path_factory.mktemp("keys")) as path:
        yield path


def _test_url(database: str) -> str:
    base = migrate.database_url(database).rsplit("/", 1)[0]
    return f"{base}/shop_test_{database}_{os.getpid()}"


def _database_at_head(database):
    url = _test_url(database)
    create_database(url, drop_existing=True)
    migrate.upgrade(database, url)
    return url


def _emptied(url):
    engine = create_engine(url)
    yield engine
    for attempt in range(5):
        try:
            _truncate_all(engine)
            break
        except DBAPIError as exc:
            # A service of the test may still be finishing a transaction (its relay, a late
            # event): TRUNCATE then deadlocks with it, and PostgreSQL aborts one side. Again.
            if "deadlock" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.2)
    engine.dispose()


def _truncate_all(engine):
    with engine.begin() as conn:
        tables = conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename != 'alembic_version'"
        )).scalars().all()
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))


def _url_of(engine):
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def core_db_url():
    """A new core database at head for this test session, dropped afterwards."""
    url = _database_at_head("core")
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def orders_db_url():
    url = _database_at_head("orders")
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def payments_db_url():
    url = _database_at_head("payments")
    yield url
    drop_database(url)


@pytest.fixture
def core_db(core_db_url):
    """The core database, emptied after each test."""
    yield from _emptied(core_db_url)


@pytest.fixture
def orders_db(orders_db_url):
    yield from _emptied(orders_db_url)


@pytest.fixture
def payments_db(payments_db_url):
    yield from _emptied(payments_db_url)


@pytest.fixture
def core_config(rabbit_config, core_db):
    """nameko config for a service on the core database and a throw-away vhost."""
    return dict(rabbit_config, DATABASE_URL=_url_of(core_db))


@pytest.fixture
def orders_config(rabbit_config, orders_db):
    return dict(rabbit_config, DATABASE_URL=_url_of(orders_db))


@pytest.fixture
def payments_config(rabbit_config, payments_db):
    return dict(rabbit_config, DATABASE_URL=_url_of(payments_db))


@pytest.fixture
def call(rabbit_config):
    """Call ``service.method`` over RabbitMQ as a gateway would, with a service token.

    ``call("users", "get_user", user_id, as_user=("uid", ["admin"]))``; pass
    ``token=None`` or ``token="garbage"`` to send no or a bad token, ``context_data`` for more
    ``nameko.`` headers (a ``traceparent``).
    """
    gateway_key = keys.load_signing_key("service-gateway")
    sentinel = object()

    def _call(service, method, *args, as_user=None, token=sentinel, timeout=10, context_data=None, **kwargs):
        if token is sentinel:
            principal = auth.Principal(user_id=as_user[0], roles=tuple(as_user[1])) if as_user else None
            token = auth.issue_service_token(gateway_key, service="gateway", audience=service,
                                             principal=principal)
        context = {"correlation_id": uuid.uuid4().hex, **(context_data or {})}
        if token is not None:
            context["authorization"] = token
        with ClusterRpcProxy(rabbit_config, context_data=context, timeout=timeout) as proxy:
            return getattr(getattr(proxy, service), method)(*args, **kwargs)

    return _call


@pytest.fixture
def catalog(container_factory, core_config):
    """A running CatalogService (a test module may define its own instead)."""
    from nameko_services.catalog.service import CatalogService

    config = dict(core_config, max_workers=20, EVENT_RETRY_DELAYS=[0.1, 0.2])
    container = container_factory(CatalogService, config)
    container.start()
    return container


@pytest.fixture
def admin(call, catalog):
    """Call the catalog as an admin."""
    from tests.integration.services.catalog_support import ADMIN

    return lambda method, *args, **kwargs: call("catalog", method, *args, as_user=ADMIN, **kwargs)


@pytest.fixture
def customer(call, catalog):
    """Call the catalog as a customer."""
    from tests.integration.services.catalog_support import CUSTOMER

    return lambda method, *args, **kwargs: call("catalog", method, *args, as_user=CUSTOMER, **kwargs)


@pytest.fixture
def orders(call, catalog):
    """Call the catalog as the orders service does: its own service token, no end user."""
    from tests.integration.services.catalog_support import service_token

    return lambda method, *args: call("catalog", method, *args, token=service_token())


@pytest.fixture
def two_catalogs(container_factory, core_config, catalog):
    """A second instance competing for the same queue, with its own connection pool."""
    from nameko_services.catalog.service import CatalogService

    other = container_factory(CatalogService, dict(core_config, max_workers=20))
    other.start()
    return catalog, other
