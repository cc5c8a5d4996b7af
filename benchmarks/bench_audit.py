"""Benchmark: appending to and verifying the hash-chained audit log (SQLite and PostgreSQL).

    python benchmarks/bench_audit.py [--n 100000] [--batch 5000] [--postgres URL]

Appends ``n`` events in transactions of ``batch`` (``audit.record_many`` + commit), then times
``audit.verify`` over the whole log and 200 one-event transactions. SQLite: a fresh file in a
temporary directory (WAL, synchronous=FULL). PostgreSQL (optional): the given database's
``public`` schema is DROPPED and recreated first — use a scratch database.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from crlm.registry import audit
from crlm.registry.db import init_db, make_session_factory


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def run(url: str, n: int, batch: int) -> dict[str, float | int | str]:
    """Timings of append, verify and single-event commits on ``url``."""
    engine = init_db(url)
    factory = make_session_factory(engine)
    start = time.perf_counter()
    with factory() as session:
        for first in range(0, n, batch):
            ids = range(first, min(n, first + batch))
            audit.record_many(session, actor="bench", action="read", entity="patient",
                              entity_ids=ids, details=["study"] * len(ids))
            session.commit()
    append_s = time.perf_counter() - start
    start = time.perf_counter()
    report = audit.verify(engine)
    verify_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(200):
        with factory() as session:
            audit.record(session, actor="bench", action="read", entity="patient", entity_id=i)
            session.commit()
    single_ms = (time.perf_counter() - start) * 1000 / 200
    engine.dispose()
    assert report.intact and report.rows == n, report
    return {"database": engine.dialect.name, "n": n, "batch": batch,
            "append_seconds": round(append_s, 2), "append_per_second": round(n / append_s),
            "verify_seconds": round(verify_s, 2), "verify_per_second": round(n / verify_s),
            "one_event_commit_ms": round(single_ms, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--postgres", help="scratch PostgreSQL URL (its public schema is reset)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(f"sqlite:///{Path(tmp) / 'audit.db'}", args.n, args.batch)]
    if args.postgres:
        _reset_postgres(args.postgres)
        results.append(run(args.postgres, args.n, args.batch))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
