"""Benchmark: the registry at scale — demo load, cohort views, streamed exports.

    python benchmarks/bench_scale.py [--n 100000] [--db-url URL] [--repeats 3]
    python benchmarks/bench_scale.py --existing --db-url URL --exports ""   # views only

On a fresh database (a temporary SQLite file, or ``--db-url``: a PostgreSQL database whose
``public`` schema is DROPPED and recreated first — give a scratch database), it measures:

- ``crlm demo --n N`` wall time (a subprocess, as a user runs it);
- ``GET /api/v1/cohort/summary`` (Table 1), ``POST /api/v1/analysis/km`` and the cohort page
  ``GET /cohort`` (Table 1 + KM + score validation + competing risks) through the ASGI app in
  process, as a researcher (all centres, small cells suppressed): the first call, then the
  median of ``--repeats`` (the page's 60-second cohort cache is emptied before each call);
- ``crlm db export`` to JSON lines, flat CSV and the analysis dataset: wall time and the peak
  resident memory of the exporting process.

With ``--existing`` the database at ``--db-url`` (SQLite too) is used as it is, without the
demo (load it once with ``crlm demo``): the web views of two versions of crlm can then be timed
on the same data, alternately (run this script with each version's Python).

Targets (issue 14): cohort summary ≤ 1 s, KM ≤ 1 s, cohort page ≤ 1 s (issue 11), export peak
RSS ≤ 300 MB, demo ≤ 60 s at 100,000 patients. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PASSWORD = "correct horse battery staple"
CRLM = [str(Path(sys.executable).with_name("crlm"))]
TARGETS = {"demo_s": 60.0, "cohort_summary_s": 1.0, "km_s": 1.0, "cohort_page_s": 1.0,
           "export_peak_rss_mb": 300.0}
#: peak RSS (MB) of a child process, printed by a small wrapper that runs only that child
RSS_WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], "
               "stdout=subprocess.DEVNULL); u = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "print(u.ru_maxrss / 1024, u.ru_utime + u.ru_stime); sys.exit(r.returncode)")


def fresh_database(url: str | None, tmp: Path) -> str:
    """A new empty database URL (PostgreSQL: its public schema dropped and recreated)."""
    if url is None:
        return f"sqlite:///{tmp / 'scale.db'}"
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def patient_count(url: str) -> int:
    """How many patients the registry at ``url`` holds."""
    import sqlalchemy as sa

    from crlm.registry.models import patients

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(patients)).scalar_one()
    engine.dispose()
    return int(n)


def run_child(*command: str) -> dict[str, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one process."""
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", RSS_WRAPPER, *command], check=True,
                         capture_output=True, text=True)
    rss, cpu = map(float, res.stdout.split())
    return {"seconds": round(time.perf_counter() - t0, 1), "cpu_s": round(cpu, 1),
            "peak_rss_mb": round(rss, 1)}


def run_export(url: str, out: Path, *extra: str) -> dict[str, float]:
    """Wall and CPU seconds and peak RSS (MB) of one ``crlm db export`` process."""
    result = run_child(*CRLM, "db", "export", str(out), "--db", url, *extra)
    result["file_mb"] = round(out.stat().st_size / 2**20, 1)
    out.unlink()
    return result


def timed(call: Callable[[], Any], repeats: int, before: Callable[[], None]) -> dict[str, Any]:
    """First call, then the median wall and CPU seconds of ``repeats`` more (``before`` runs
    ahead of each; CPU time is the steadier figure on a shared machine)."""
    times, cpu = [], []
    for _ in range(repeats + 1):
        before()
        t0, c0 = time.perf_counter(), time.process_time()
        response = call()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if response.status_code != 200:
            raise RuntimeError(f"{response.request.url} answered {response.status_code}")
    return {"first_s": round(times[0], 3), "median_s": round(statistics.median(times[1:]), 3),
            "median_cpu_s": round(statistics.median(cpu[1:]), 3)}


def web_views(url: str, repeats: int) -> dict[str, Any]:
    """Cohort summary, KM and cohort page through the ASGI app, as a researcher."""
    from fastapi.testclient import TestClient

    from crlm.registry import users
    from crlm.registry.db import init_db, make_session_factory
    from crlm.web.app import create_app
    from crlm.web.records import cohort_cache

    engine = init_db(url)
    with make_session_factory(engine)() as s:
        if users.get_user(s, "rita") is None:
            users.add_user(s, "rita", PASSWORD, "researcher", None)
            s.commit()
    engine.dispose()
    app = create_app(url, secret_key="s" * 48, testing=True)
    out: dict[str, Any] = {}
    with TestClient(app) as client:
        token = client.post("/api/v1/auth/token", json={
            "username": "rita", "password": PASSWORD}).json()["access_token"]
        api = {"Authorization": f"Bearer {token}"}

        def fresh() -> None:
            app.state.cohort_cache = cohort_cache()

        out["cohort_summary"] = timed(
            lambda: client.get("/api/v1/cohort/summary?grouping=sex", headers=api), repeats,
            fresh)
        out["km"] = timed(lambda: client.post("/api/v1/analysis/km", headers=api,
                                              json={"grouping": "ras"}), repeats, fresh)
        page = client.get("/login").text
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/login", data={"username": "rita", "password": PASSWORD,
                                    "csrf_token": csrf, "next": "/"}, follow_redirects=False)
        out["cohort_page"] = timed(lambda: client.get("/cohort?grouping=sex"), repeats, fresh)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--db-url", default=None,
                        help="scratch PostgreSQL URL (its public schema is dropped!)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--exports", default="jsonl,csv,analysis",
                        help="which exports to measure (comma-separated; empty: none)")
    parser.add_argument("--existing", action="store_true",
                        help="use the database at --db-url as it is (no demo)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crlm-scale-"))
    try:
        if args.existing and not args.db_url:
            parser.error("--existing needs --db-url")
        url = args.db_url if args.existing else fresh_database(args.db_url, tmp)
        result: dict[str, Any] = {"n": args.n, "database": url.split(":")[0].split("+")[0]}
        if args.existing:
            result["n"] = patient_count(url)
        else:
            result["demo"] = run_child(*CRLM, "demo", "--n", str(args.n), "--db", url)
        result.update(web_views(url, args.repeats))
        kinds = {"jsonl": ("all.jsonl",), "csv": ("all.csv",),
                 "analysis": ("analysis.csv", "--analysis")}
        result["export"] = {kind: run_export(url, tmp / kinds[kind][0], *kinds[kind][1:])
                            for kind in args.exports.split(",") if kind}
        measured = {
            "demo_s": result["demo"]["seconds"] if "demo" in result else None,
            "cohort_summary_s": result["cohort_summary"]["median_s"],
            "km_s": result["km"]["median_s"],
            "cohort_page_s": result["cohort_page"]["median_s"],
            "export_peak_rss_mb": max((e["peak_rss_mb"] for e in result["export"].values()),
                                      default=None),
        }
        result["targets_met"] = {k: measured[k] <= TARGETS[k] for k in TARGETS
                                 if measured[k] is not None}
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
