"""Alembic environment of the core database (users and catalog tables)."""
from alembic import context

from nameko_services.catalog.models import Base as CatalogBase
from nameko_services.common.migrate import run_environment
from nameko_services.users.models import Base as UsersBase

run_environment(context, [UsersBase.metadata, CatalogBase.metadata])
