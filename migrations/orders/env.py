"""Alembic environment of the orders database."""
from alembic import context

from nameko_services.common.migrate import run_environment

run_environment(context, None)
