"""Benchmark: registry import of a synthetic cohort in crlm's flat CSV format into SQLite.

    python benchmarks/bench_import.py [--n 100000] [--repeats 3] [--csv cohort.csv]
                                      [--profile out.prof] [--no-phases]

Patients come from ``crlm.synth`` (Maki 2023 rectal cohort, validated by the patient model) and
are written as rows of ``crlm.registry.export.flat_row``. Each repeat imports the file with
``import_file`` into a fresh, migrated SQLite database (WAL, synchronous=FULL) in a temporary
directory and commits: the timed span is ``import_file`` + ``commit`` (reading, validating and
writing; the one transaction). The phases are the importer's own times (reading and
staging, validation, writing; the commit is not in them). CPU seconds are reported next to
wall seconds because other processes share the cores. Target: ≤ 30 s for 100,000 rows on
the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from crlm.registry.db import init_db, make_session_factory
from crlm.registry.dictionary import DataDictionary
from crlm.registry.export import flat_row
from crlm.registry.importer import import_file
from crlm.registry.repository import count_patients
from crlm.synth import synthetic_rectal_cohort, to_patients


def synthetic_csv(n: int, seed: int) -> bytes:
    """``n`` synthetic patients as a flat-format CSV file."""
    dictionary = DataDictionary.crlm_export()
    rows = [flat_row(p, dictionary) for p in to_patients(synthetic_rectal_cohort(n, seed))]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


def import_seconds(data: bytes, n: int, tmp: Path, run: int,
                   profile: cProfile.Profile | None = None
                   ) -> tuple[float, float, dict[str, float]]:
    """Wall and CPU time of ``import_file`` + commit into a fresh SQLite database, and the
    importer's own phase times (read + stage, validate, write)."""
    url = f"sqlite:///{tmp / f'import_{run}.db'}"
    engine = init_db(url)
    with make_session_factory(engine)() as session:
        if profile is not None:
            profile.enable()
        t0, c0 = time.perf_counter(), time.process_time()
        result = import_file(session, data, centre="bench", actor="bench")
        session.commit()
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        if profile is not None:
            profile.disable()
        if not result.ok or result.n_created != n or count_patients(session) != n:
            raise RuntimeError(f"import failed: {result.errors[:5]} ({result.n_created} created)")
    engine.dispose()
    return seconds, cpu_seconds, result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-phases", action="store_true", help="skip the per-phase runs")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the first import here")
    parser.add_argument("--csv", type=Path,
                        help="reuse this synthetic CSV if it exists, else write it there")
    args = parser.parse_args()
    t0 = time.perf_counter()
    if args.csv is not None and args.csv.exists():
        data = args.csv.read_bytes()
    else:
        data = synthetic_csv(args.n, args.seed)
        if args.csv is not None:
            args.csv.write_bytes(data)
    synth_seconds = time.perf_counter() - t0
    totals: list[float] = []
    cpu: list[float] = []
    phases: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for run in range(args.repeats):
            profile = cProfile.Profile() if args.profile and run == 0 else None
            wall, cpu_seconds, phase = import_seconds(data, args.n, tmp, run, profile)
            totals.append(wall)
            cpu.append(cpu_seconds)
            if profile is not None:
                profile.dump_stats(args.profile)
            if not args.no_phases:
                phases.append(phase)
    print(json.dumps({
        "n": args.n,
        "csv_mb": round(len(data) / 1e6, 1),
        "synth_seconds": round(synth_seconds, 2),
        "import_seconds": [round(s, 2) for s in totals],
        "import_median_seconds": round(statistics.median(totals), 2),
        "import_cpu_seconds": [round(s, 2) for s in cpu],
        "phase_median_seconds": {k: round(statistics.median(p[k] for p in phases), 2)
                                 for k in (phases[0] if phases else {})},
        "load_average_1min": round(os.getloadavg()[0], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
