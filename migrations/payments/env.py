"""Alembic environment of the payments database (the service's tables and the sandbox's)."""
from alembic import context

from nameko_services.common.migrate import run_environment
from nameko_services.payments.gateways.sandbox_ledger import sandbox_metadata
from nameko_services.payments.models import Base

run_environment(context, [Base.metadata, sandbox_metadata])
