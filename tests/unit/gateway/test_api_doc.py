"""docs/API.md stays true to the code: every error class, error code, status and route is in it.

The tables are read from the document and compared with what the code raises and mounts:
``nameko_services.common.errors.REGISTRY``, the error classes, ``STATUS`` and ``HTTP_CODES`` of
``gateway/errors.py``, the codes the gateway answers literally (``error_response("code", ...)``)
and the route table. Add the row (or the route) to docs/API.md when one of these fails.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway import errors as gateway_errors
from gateway.app import ENDPOINTS
from gateway.errors import HTTP_CODES, STATUS, status_for
from nameko_services.common.errors import REGISTRY, OAuthError, ServiceError

ROOT = Path(__file__).resolve().parents[3]
API_MD = ROOT / "docs" / "API.md"
GATEWAY = ROOT / "gateway"
UNMAPPED = (500, "internal_error")  # a class without a status (a bare ServiceError) is a sealed 500

GATEWAY_ERRORS = sorted((cls for cls in vars(gateway_errors).values()
                         if isinstance(cls, type) and issubclass(cls, ServiceError)
                         and cls.__module__ == gateway_errors.__name__), key=lambda c: c.__name__)
ERROR_CLASSES = {**REGISTRY, **{cls.__name__: cls for cls in GATEWAY_ERRORS}}


@dataclass(frozen=True)
class Row:
    code: str
    status: int
    classes: frozenset[str]


def _section(text: str, heading: str) -> str:
    """The lines under ``heading`` up to the next heading of any level."""
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("#")), len(lines))
    return "\n".join(lines[start:end])


def _cells(line: str) -> list[str]:
    """The cells of a markdown table row (``\\|`` is a pipe inside a cell)."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def _table_rows(section: str) -> list[list[str]]:
    return [_cells(line) for line in section.splitlines()
            if line.startswith("|") and not re.fullmatch(r"\|[-| :]+\|", line.strip())]


@pytest.fixture(scope="module")
def document() -> str:
    return API_MD.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def error_rows(document: str) -> dict[str, Row]:
    """The "Error codes" table by code."""
    rows: dict[str, Row] = {}
    for cells in _table_rows(_section(document, "### Error codes")):
        code = re.fullmatch(r"`([a-z_]+)`", cells[0])
        if code is None:
            continue  # the header
        assert code[1] not in rows, f"{code[1]} has two rows in docs/API.md"
        rows[code[1]] = Row(code[1], int(cells[1]), frozenset(re.findall(r"`(\w+)`", cells[2])))
    return rows


@pytest.fixture(scope="module")
def documented_statuses(document: str) -> set[int]:
    """The first column of the "Statuses" table."""
    return {int(cells[0]) for cells in _table_rows(_section(document, "### Statuses"))
            if cells[0].isdigit()}


def _row_naming(rows: dict[str, Row], name: str) -> Row:
    found = [row for row in rows.values() if name in row.classes]
    assert found, f"{name} is not named in the error code table of docs/API.md"
    assert len(found) == 1, f"{name} is named in several rows of docs/API.md"
    return found[0]


def literal_codes() -> set[tuple[str, int | None]]:
    """``(code, status)`` of every ``error_response("code", message, status, ...)`` in gateway/."""
    found = set()
    for path in GATEWAY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "error_response"):
                continue
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                status = node.args[2] if len(node.args) > 2 else None
                found.add((node.args[0].value,
                           status.value if isinstance(status, ast.Constant) else None))
    return found


def test_the_error_code_table_is_there(error_rows):
    assert len(error_rows) >= len({cls.code for cls in REGISTRY.values()})


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registered_error_class_is_in_the_table_with_its_status_and_code(error_rows, name):
    row = _row_naming(error_rows, name)
    assert (row.status, row.code) == (status_for(REGISTRY[name]) or UNMAPPED)


@pytest.mark.parametrize("cls", GATEWAY_ERRORS, ids=lambda c: c.__name__)
def test_every_gateway_error_class_is_in_the_table_with_its_status_and_code(error_rows, cls):
    row = _row_naming(error_rows, cls.__name__)
    assert (row.status, row.code) == (status_for(cls) or UNMAPPED)


@pytest.mark.parametrize(("status", "code"), sorted(HTTP_CODES.items()))
def test_every_http_error_code_of_the_gateway_is_in_the_table(error_rows, status, code):
    assert code in error_rows, f"{code} ({status}) is missing from docs/API.md's error code table"
    assert error_rows[code].status == status


@pytest.mark.parametrize(("code", "status"), sorted(literal_codes(), key=str))
def test_every_code_the_gateway_answers_literally_is_in_the_table(error_rows, code, status):
    assert code in error_rows, f"{code} is missing from docs/API.md's error code table"
    assert status is None or error_rows[code].status == status


def test_the_table_names_only_error_classes_and_codes_that_exist(error_rows):
    known_codes = ({(status_for(cls) or UNMAPPED)[1] for cls in ERROR_CLASSES.values()}
                   | set(HTTP_CODES.values()) | {code for code, _ in literal_codes()})
    for row in error_rows.values():
        assert row.code in known_codes, f"docs/API.md lists {row.code}, which nothing raises"
        assert row.classes <= set(ERROR_CLASSES), \
            f"docs/API.md names {sorted(row.classes - set(ERROR_CLASSES))}, which are no error classes"


def test_every_status_the_gateway_answers_is_in_the_status_table(documented_statuses):
    oauth = {int(cls.status) for cls in ERROR_CLASSES.values() if issubclass(cls, OAuthError)}
    success = {endpoint.status for endpoint in ENDPOINTS} | {s for e in ENDPOINTS for s in e.also}
    answered = set(STATUS.values()) | oauth | set(HTTP_CODES) | success | {UNMAPPED[0]}
    answered |= {status for _, status in literal_codes() if status is not None}
    assert answered - documented_statuses == set()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_every_route_is_in_the_document(document, endpoint):
    assert f"`{endpoint.method} {endpoint.path}`" in document, \
        f"{endpoint.method} {endpoint.path} is not described in docs/API.md"
