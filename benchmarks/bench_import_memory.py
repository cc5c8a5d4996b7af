"""Benchmark: peak memory (RSS) of importing a 2 million-row CSV of short rows.

    python benchmarks/bench_import_memory.py [--rows 2000000] [--db sqlite|URL]
                                             [--src PATH] [--keep DIR]

The file is ``id,age_years,sex`` with one short patient a row (2 M rows ≈ 35 MB). Each import
runs in a fresh child process (``crlm.registry.importer.import_file`` into a fresh migrated
SQLite database, then commit) and reports its own peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``), wall time and the importer's phase times.
``--src`` runs the same child with another crlm source tree first on ``PYTHONPATH`` (e.g. an
extracted older commit: ``git archive main src | tar -x -C /tmp/old``) for a before/after.
Target: peak RSS ≤ 500 MB for 2 M rows, with every row imported in one transaction.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from crlm.registry.db import init_db, make_session_factory
from crlm.registry.importer import import_file
from crlm.registry.repository import count_patients
url, path, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
engine = init_db(url)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
with make_session_factory(engine)() as session:
    result = import_file(session, path, centre="bench", actor="bench")
    session.commit()
    seconds = time.perf_counter() - t0
    stored = count_patients(session)
print(json.dumps({
    "ok": result.ok, "created": result.n_created, "stored": stored,
    "errors": [str(e) for e in result.errors[:3]],
    "seconds": round(seconds, 1), "phases": getattr(result, "seconds", {}),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    "rss_before_import_mb": round(base / 1024),
}))
"""


def write_csv(path: Path, rows: int) -> None:
    """``rows`` short patients: id, age and sex."""
    sexes = ("male", "female")
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("id,age_years,sex\n")
        for i in range(rows):
            fh.write(f"P{i:07d},{40 + i % 50},{sexes[i % 2]}\n")


def measure(csv_path: Path, rows: int, url: str, src: Path | None) -> dict[str, object]:
    """Import ``csv_path`` in a child process; its report."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", CHILD, url, str(csv_path), str(rows)],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"failed": done.returncode, "stderr": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--db", default="sqlite", help="sqlite (fresh temp file) or a URL")
    parser.add_argument("--src", type=Path, help="another crlm src tree to measure instead")
    parser.add_argument("--keep", type=Path, help="keep the CSV here (reused if present)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        csv_path = args.keep or tmp / "short_rows.csv"
        if not csv_path.exists():
            write_csv(csv_path, args.rows)
        url = f"sqlite:///{tmp / 'registry.db'}" if args.db == "sqlite" else args.db
        report = measure(csv_path, args.rows, url, args.src)
        print(json.dumps({"rows": args.rows, "csv_mb": round(csv_path.stat().st_size / 1e6, 1),
                          "source": str(args.src or "this tree"), **report,
                          "load_average_1min": round(os.getloadavg()[0], 2)}, indent=2))


if __name__ == "__main__":
    main()
