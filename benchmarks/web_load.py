"""Loopback load test of the web app: ``POST /api/v1/assess`` latency/throughput at a fixed
request rate, and the first patient-list page with many patients in the database.

    python benchmarks/web_load.py [--rate 500] [--seconds 10] [--patients 100000]

Starts uvicorn (one worker, own process) on a free 127.0.0.1 port with a temporary SQLite
database, sends
requests open-loop at ``--rate`` per second from a thread pool of keep-alive httpx clients, and
prints p50/p99 latency and achieved throughput. The client shares the machine's cores with the
server, so the figures are a lower bound of what the server alone can do.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

PATIENT = {
    "id": "BENCH-1", "age_years": 61, "sex": "male", "height_cm": 175, "weight_kg": 80,
    "primary": {"site": "rectum", "t_category": "T3", "n_category": "N1"},
    "liver": {"timing": "synchronous", "disease_free_interval_months": 0,
              "number_of_metastases": 4, "largest_diameter_cm": 3.2, "bilobar": True},
    "labs": {"cea_ng_ml": 12.0},
    "molecular": {"kras": "mutant", "nras": "wildtype", "braf": "wildtype"},
    "volumetry": {"total_liver_volume_ml": 1500, "flr_volume_ml": 420},
}
PASSWORD = "benchmark password 1"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(db_url: str) -> tuple[str, subprocess.Popen[bytes]]:
    """Create the DB and a user here, then run uvicorn in its own process (own GIL)."""
    from crlm.registry import users
    from crlm.registry.db import init_db, make_session_factory

    with make_session_factory(init_db(db_url))() as s:
        users.add_user(s, "bench", PASSWORD, "admin", "bench")
        s.commit()
    port = _free_port()
    env = os.environ | {"CRLM_DATABASE_URL": db_url, "CRLM_SECRET_KEY": "b" * 48}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "crlm.web.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{base}/login", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return base, proc


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load_assess(base: str, headers: dict[str, str], rate: float, seconds: float) -> dict:
    """Open-loop: one request every 1/rate s; latency measured from the scheduled start."""
    body = json.dumps(PATIENT).encode()
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "c"):
            local.c = httpx.Client(base_url=base, headers=headers | {
                "Content-Type": "application/json"})
        return local.c

    def one(scheduled: float) -> tuple[float, int]:
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        r = client().post("/api/v1/assess", content=body)
        return time.perf_counter() - scheduled, r.status_code

    n = int(rate * seconds)
    start = time.perf_counter() + 0.2
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(one, [start + i / rate for i in range(n)]))
    elapsed = time.perf_counter() - start
    lat = [r[0] * 1000 for r in results]
    return {
        "requests": n, "errors": sum(1 for r in results if r[1] != 200),
        "throughput_rps": n / elapsed, "p50_ms": statistics.median(lat),
        "p99_ms": _percentile(lat, 0.99), "max_ms": max(lat),
    }


def patient_list_first_page(base: str, headers: dict[str, str], db_url: str, n: int) -> dict:
    """Insert ``n`` patients through the repository, then time the list API and page."""
    from crlm.domain import parse_patient
    from crlm.registry import repository
    from crlm.registry.db import make_engine, make_session_factory

    factory = make_session_factory(make_engine(db_url))
    t0 = time.perf_counter()
    with factory() as s:
        for i in range(n):
            repository.add_patient(s, parse_patient(PATIENT | {"id": f"P{i}"}), centre="bench",
                                   actor="bench")
            if i % 5000 == 4999:
                s.commit()
        s.commit()
    insert_s = time.perf_counter() - t0
    out: dict[str, float] = {"patients": n, "insert_s": insert_s}
    with httpx.Client(base_url=base, headers=headers) as c:
        out |= _timed(c, "/api/v1/patients?limit=50", "list_api")
    with httpx.Client(base_url=base) as c:  # the HTML page with a logged-in session
        token = CSRF_RE.search(c.get("/login").text).group(1)  # type: ignore[union-attr]
        c.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token})
        out |= _timed(c, "/patients", "list_page")
    return out


def _timed(client: httpx.Client, url: str, name: str, repeat: int = 20) -> dict[str, float]:
    timings = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(url)
        timings.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    return {f"{name}_p50_ms": statistics.median(timings), f"{name}_max_ms": max(timings)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=500, help="assess requests/s (0: skip)")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--patients", type=int, default=100_000, help="0: skip the list test")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        base, proc = _start_server(db_url)
        try:
            r = httpx.post(f"{base}/api/v1/auth/token",
                           json={"username": "bench", "password": PASSWORD})
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            out = {}
            if args.rate > 0:
                out["assess"] = load_assess(base, headers, args.rate, args.seconds)
            if args.patients:
                out["patient_list"] = patient_list_first_page(
                    base, headers, db_url, args.patients
                )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
