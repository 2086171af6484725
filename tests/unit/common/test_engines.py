"""Every engine of the platform hides statement parameters (nameko_services.common.engine)."""
import ast
from pathlib import Path

from nameko_services.common.db import make_engine
from nameko_services.common.dbadmin import _server_engine

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ("nameko_services", "gateway", "migrations")
ENGINE_FACTORIES = {"create_engine", "engine_from_config", "create_async_engine"}


def raw_engine_factories(path: Path) -> list[int]:
    """Lines of ``path`` that reach SQLAlchemy's own engine factories."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            lines += [node.lineno for alias in node.names if alias.name in ENGINE_FACTORIES]
        elif (isinstance(node, ast.Attribute) and node.attr in ENGINE_FACTORIES
              and isinstance(node.value, ast.Name) and node.value.id in ("sqlalchemy", "sa")):
            lines.append(node.lineno)
    return lines


def test_no_code_outside_the_tests_makes_an_engine_but_through_common_engine():
    engine_module = ROOT / "nameko_services" / "common" / "engine.py"
    offenders = {str(path.relative_to(ROOT)): lines
                 for folder in SOURCES for path in sorted((ROOT / folder).rglob("*.py"))
                 if path != engine_module and (lines := raw_engine_factories(path))}
    assert offenders == {}


def test_service_and_admin_engines_hide_statement_parameters():
    url = "postgresql+psycopg2://postgres@127.0.0.1:5432/shop_core"
    for engine in (make_engine(url), _server_engine(url)):
        try:
            assert engine.hide_parameters is True
        finally:
            engine.dispose()
