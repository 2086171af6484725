"""Alembic environment of the payments database."""
from alembic import context

from nameko_services.common.migrate import run_environment
from nameko_services.payments.models import Base

run_environment(context, [Base.metadata])
