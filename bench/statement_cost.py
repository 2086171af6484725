"""CPU per statement, client and PostgreSQL backend, for the ways a service can run one INSERT.

    .venv/bin/python bench/statement_cost.py [--count 2000] [--rounds 3]

The statement is the saga's commonest, recording a processed event (``common.idempotency``),
on a scratch database (PostgreSQL must be running; ``SHOP_DATABASE_URL``'s server). Each way is
run ``--count`` times per round, the ways alternating within each round, and the median per
way is printed: client CPU (this process, user + system) and backend CPU (/proc of the
session's PostgreSQL backend, same machine only) per statement.

- ``session, built each time``: ``session.execute(insert(...).values(...))``, as the services did;
- ``session, built once``: the same statement object with bind parameters, reused;
- ``precompiled``: ``common.precompiled`` (driver SQL through SQLAlchemy's connection);
- ``bare cursor``: psycopg2 alone, the floor on the client;
- ``bare cursor, prepared``: the same through a server-side ``PREPARE``d statement (``EXECUTE``),
  which PostgreSQL parses and plans once per connection: what that would save its backend.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import MetaData, text
    from sqlalchemy.dialects.postgresql import insert
    from sqlalchemy.orm import Session

    from nameko_services.common import migrate
    from nameko_services.common.dbadmin import create_database, drop_database
    from nameko_services.common.engine import create_engine
    from nameko_services.common.idempotency import processed_events_table
    from nameko_services.common.precompiled import binds, precompile

    metadata = MetaData()
    table = processed_events_table(metadata)
    url = migrate.database_url("core").rsplit("/", 1)[0] + f"/shop_bench_statements_{uuid.uuid4().hex[:6]}"
    create_database(url, drop_existing=True)
    engine = create_engine(url)
    try:
        metadata.create_all(engine)
        built_once = (insert(table).values(**binds("event_id", "handler", "processed_at"))
                      .on_conflict_do_nothing().returning(table.c.event_id))
        precompiled = precompile(built_once)
        session = Session(engine)
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]

        # Server-side prepared: PostgreSQL parses and plans it once per connection, not per call.
        positional = precompiled.sql
        for n, name in enumerate(("event_id", "handler", "processed_at"), 1):
            positional = positional.replace(f"%({name})s", f"${n}")
        prepare = f"PREPARE bench_processed AS {positional}"
        prepared_call = "EXECUTE bench_processed(%(event_id)s, %(handler)s, %(processed_at)s)"
        cursor.execute(prepare)

        def values() -> dict:
            return {"event_id": str(uuid.uuid4()), "handler": "bench", "processed_at": datetime.now(UTC)}

        ways: dict[str, Callable[[], object]] = {
            "session, built each time": lambda: session.execute(
                insert(table).values(**values()).on_conflict_do_nothing().returning(table.c.event_id)).first(),
            "session, built once": lambda: session.execute(built_once, values()).first(),
            "precompiled": lambda: precompiled.execute(session, values()).first(),
            "bare cursor": lambda: (cursor.execute(precompiled.sql, values()), cursor.fetchone()),
            "bare cursor, prepared": lambda: (cursor.execute(prepared_call, values()), cursor.fetchone()),
        }
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        for number in range(args.rounds):
            order = list(ways) if number % 2 == 0 else list(ways)[::-1]
            for name in order:
                client, backend = cpu(), backend_cpu(pid)
                for _ in range(args.count):
                    ways[name]()
                figures[name].append((1e6 * (cpu() - client) / args.count,
                                      1e6 * (backend_cpu(pid) - backend) / args.count))
            session.rollback()  # keeps the table small; the same transaction size each round
            cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute("DEALLOCATE ALL")
            cursor.execute(prepare)
        print(f"{args.count} statements per way and round, {args.rounds} rounds; median CPU per statement:")
        for name, rounds in figures.items():
            print(f"  {name:<26} client {statistics.median(c for c, _ in rounds):5.0f} µs, "
                  f"PostgreSQL backend {statistics.median(b for _, b in rounds):5.0f} µs")
        session.close()
    finally:
        engine.dispose()
        drop_database(url)


if __name__ == "__main__":
    main()
