"""Alembic environment of the orders database."""
from alembic import context

from nameko_services.common.migrate import run_environment
from nameko_services.orders.models import Base

run_environment(context, [Base.metadata])
