"""Expand/contract: which revisions beyond this code's head a database may be at for it to run.

A migration that only adds what older code ignores (a table, a nullable column, an index)
declares ``compatible_with_previous = True`` in its script; one that drops, renames or tightens
anything does not. Code at head H runs on a database at a later revision R only when every
revision after H up to R declares it, so a rollout migrates first and restarts the services one
by one (docs/ARCHITECTURE.md, "Databases and migrations").

Code older than R has no script for R, so the migration environment records each revision it
applies, its parents and its declaration in the ``schema_revisions`` table, in the migration's
own transaction (a downgrade deletes the row); the start check reads them there.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, inspect, text

TABLE = "schema_revisions"
DECLARATION = "compatible_with_previous"

CREATE_TABLE = text(f"""
    CREATE TABLE IF NOT EXISTS {TABLE} (
        revision varchar(128) PRIMARY KEY,
        down_revisions varchar(512) NOT NULL,
        {DECLARATION} boolean NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )""")
RECORD = text(f"""
    INSERT INTO {TABLE} (revision, down_revisions, {DECLARATION})
    VALUES (:revision, :down_revisions, :compatible)
    ON CONFLICT (revision) DO UPDATE
    SET down_revisions = EXCLUDED.down_revisions, {DECLARATION} = EXCLUDED.{DECLARATION},
        applied_at = now()""")
FORGET = text(f"DELETE FROM {TABLE} WHERE revision = :revision")


def declares_compatible(module: Any) -> bool:
    """Whether a migration script says code at its parent revision runs on its schema."""
    return getattr(module, DECLARATION, False) is True


def record_step(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
    """Alembic's ``on_version_apply`` hook: remember an applied revision, forget a reverted one."""
    if step.is_upgrade:
        ctx.connection.execute(RECORD, {
            "revision": step.up_revision_id, "down_revisions": ",".join(step.down_revision_ids),
            "compatible": declares_compatible(step.up_revision.module)})
    else:
        ctx.connection.execute(FORGET, {"revision": step.up_revision_id})


def not_bookkeeping(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's ``include_name`` filter: every reflected name but this record's table, which
    no model describes (autogenerate must not offer to drop it)."""
    return not (type_ == "table" and name == TABLE)


def _recorded(connection: Connection) -> dict[str, tuple[list[str], bool]]:
    if not inspect(connection).has_table(TABLE):
        return {}
    rows = connection.execute(text(f"SELECT revision, down_revisions, {DECLARATION} FROM {TABLE}"))
    return {revision: ([d for d in downs.split(",") if d], compatible)
            for revision, downs, compatible in rows}


def refusal(connection: Connection, known: Iterable[str], heads: set[str],
            current: set[str]) -> str | None:
    """Why code whose scripts are ``known`` (heads ``heads``) must not run on a database at
    ``current``, or None when it may."""
    known = set(known)
    if not current or (current & known) - heads:
        return None if current == heads else _behind(current, heads)
    recorded = _recorded(connection)
    for revision in sorted(current - heads):
        pending = [revision]
        while pending:
            later = pending.pop()
            if later in heads:
                continue
            if later in known:
                return f"revision {revision!r} does not descend from this code's head {sorted(heads)}"
            if later not in recorded:
                return (f"revision {later!r} is unknown to this code and not recorded in {TABLE}: "
                        "deploy code that has it")
            downs, compatible = recorded[later]
            if not compatible:
                return (f"revision {later!r} is not compatible with code at {sorted(heads)} "
                        f"(it does not declare {DECLARATION}): deploy code that has it")
            pending.extend(downs)
    return None


def _behind(current: set[str], heads: set[str]) -> str:
    return (f"at revision {sorted(current) or 'none'}, this code needs {sorted(heads)}: "
            "run `shopctl migrate`")
