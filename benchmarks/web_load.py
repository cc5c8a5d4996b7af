"""Loopback load test of the web app: ``POST /api/v1/assess`` latency/throughput at a fixed
request rate, and the first patient-list page with many patients in the database.

    python benchmarks/web_load.py [--rate 300,500] [--repeat 3] [--seconds 10]
        [--patients 100000] [--workers 1] [--http auto] [--loop auto] [--connections 32]

Starts uvicorn (``--workers`` processes, access log off) on a free 127.0.0.1 port with a
temporary SQLite database, then for each rate runs ``--repeat`` open-loop runs and prints each
run and the medians as JSON.

Load generator (this process; the server runs in its own processes): a small asyncio HTTP/1.1
client over ``--connections`` keep-alive sockets that sends one pre-encoded request (headers and
body built once) every ``1/rate`` s. It is open-loop: a request is due at its scheduled time
whether or not earlier answers have arrived; when every connection is busy it waits for the next
free one. Latency is measured from the *scheduled* send time to the last byte of the answer, so
server stalls are not hidden by the client slowing down (no coordinated omission). The client's
own lateness in sending (``dispatch_lag``: ≈ 1 ms p99 from the event loop's millisecond timer,
more when the client itself is short of CPU) is part of the latency and reported separately.
Chosen over ``wrk`` (Debian's build has no fixed-rate mode), the former httpx thread pool (a
thread hand-off and a full HTTP client stack per request, on the same two cores as the server)
and ``autocannon`` (a Node dependency). Each run also reports the CPU time per request of the
server processes (from ``/proc``) and of this client, and the 1-minute load average, since
other jobs may share the cores. Each run is printed to stderr as it ends.

The patient-list part inserts ``--patients`` patients through the repository (≈ 1–5 ms
each) and times the first page of the list API and of the HTML list sequentially with httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

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
ASSESS_PATH = "/api/v1/assess"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(
    db_url: str, *, workers: int = 1, http: str = "auto", loop: str = "auto"
) -> tuple[str, subprocess.Popen[bytes]]:
    """Create the DB and a user here, then run uvicorn in its own process(es)."""
    from crlm.registry import users
    from crlm.registry.db import init_db, make_session_factory

    with make_session_factory(init_db(db_url))() as s:
        users.add_user(s, "bench", PASSWORD, "admin", "bench")
        s.commit()
    port = _free_port()
    # One secret for every worker, so a token issued by one is accepted by the others.
    env = os.environ | {"CRLM_DATABASE_URL": db_url, "CRLM_SECRET_KEY": "b" * 48}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "crlm.web.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log", "--workers", str(workers), "--http", http, "--loop", loop],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{base}/login", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return base, proc


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---------------------------------------------------------------------------- open-loop client


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self, load: _OpenLoop) -> None:
        self.load = load
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.response_bytes = -1  # header + body length of the answer being read; -1: unknown
        self.status = 0
        self.scheduled = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, scheduled: float) -> None:
        self.scheduled = scheduled
        assert self.transport is not None
        self.transport.write(self.load.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.response_bytes < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                raise RuntimeError("answer without Content-Length")
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : stop if stop >= 0 else len(head)])
            self.response_bytes = end + 4 + length
        if len(self.buffer) >= self.response_bytes:
            del self.buffer[: self.response_bytes]
            self.response_bytes = -1
            self.load.answered(self, self.status, self.scheduled)

    def connection_lost(self, exc: Exception | None) -> None:
        self.load.lost(self)


class _OpenLoop:
    """Send ``n`` requests at fixed intervals over a pool of connections; record latencies."""

    def __init__(self, request: bytes, n: int) -> None:
        self.request = request
        self.n = n
        self.idle: deque[_Connection] = deque()
        self.busy: set[_Connection] = set()
        self.backlog: deque[float] = deque()
        self.latency_s: list[float] = []
        self.dispatch_lag_s: list[float] = []
        self.errors = 0
        self.done: asyncio.Future[None] | None = None
        self.started_at = 0.0
        self.finished_at = 0.0

    def submit(self, scheduled: float, now: float) -> None:
        self.dispatch_lag_s.append(now - scheduled)
        if self.idle:
            self._send(self.idle.popleft(), scheduled)
        else:
            self.backlog.append(scheduled)

    def _send(self, conn: _Connection, scheduled: float) -> None:
        self.busy.add(conn)
        conn.send(scheduled)

    def answered(self, conn: _Connection, status: int, scheduled: float) -> None:
        self.latency_s.append(time.perf_counter() - scheduled)
        if status != 200:
            self.errors += 1
        self.busy.discard(conn)
        if self.backlog:
            self._send(conn, self.backlog.popleft())
        else:
            self.idle.append(conn)
        self._check_done()

    def lost(self, conn: _Connection) -> None:
        if conn in self.busy:
            self.busy.discard(conn)
            self.errors += 1
            self.latency_s.append(float("inf"))
        if conn in self.idle:
            self.idle.remove(conn)
        self._check_done()

    def _check_done(self) -> None:
        if len(self.latency_s) >= self.n and self.done is not None and not self.done.done():
            self.finished_at = time.perf_counter()
            self.done.set_result(None)


def _post_request(path: str, host: str, token: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _run_open_loop(
    host: str, port: int, request: bytes, rate: float, seconds: float, connections: int
) -> _OpenLoop:
    loop = asyncio.get_running_loop()
    n = int(rate * seconds)
    load = _OpenLoop(request, n)
    load.done = loop.create_future()
    conns = []
    for _ in range(connections):
        _, conn = await loop.create_connection(lambda: _Connection(load), host, port)
        conns.append(conn)
    # Warm-up: every connection answers once before the clock starts.
    warm = _OpenLoop(request, len(conns))
    warm.done = loop.create_future()
    warm.idle.extend(conns)
    for conn in conns:
        conn.load = warm
    for _ in conns:
        warm.submit(time.perf_counter(), time.perf_counter())
    await asyncio.wait_for(warm.done, 30)
    for conn in warm.idle:
        conn.load = load
        load.idle.append(conn)
    start = time.perf_counter() + 0.05
    load.started_at = start
    interval = 1.0 / rate
    i = 0
    while i < n:
        now = time.perf_counter()
        while i < n and start + i * interval <= now:
            load.submit(start + i * interval, now)
            i += 1
        if i < n:
            await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
    try:
        await asyncio.wait_for(load.done, seconds + 30)
    except TimeoutError:
        load.errors += n - len(load.latency_s)
    for conn in [*load.idle, *load.busy]:
        if conn.transport is not None:
            conn.transport.close()
    return load


def _process_tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its child processes (uvicorn workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(entry) == pid or int(fields[1]) == pid:  # fields[1]: parent pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def load_assess(
    base: str, token: str, rate: float, seconds: float, server_pid: int, connections: int = 32
) -> dict[str, float]:
    """One open-loop run of ``POST /api/v1/assess`` at ``rate`` requests/s for ``seconds``."""
    host, port = base.removeprefix("http://").split(":")
    request = _post_request(ASSESS_PATH, f"{host}:{port}", token, json.dumps(PATIENT).encode())
    load_before = os.getloadavg()[0]
    cpu_server = _process_tree_cpu_s(server_pid)
    cpu_client = time.process_time()
    wall = time.perf_counter()
    gc.collect()
    gc.disable()
    try:
        result = _event_loop_run(
            _run_open_loop(host, int(port), request, rate, seconds, connections)
        )
    finally:
        gc.enable()
    wall = time.perf_counter() - wall
    cpu_server = _process_tree_cpu_s(server_pid) - cpu_server
    cpu_client = time.process_time() - cpu_client
    n = result.n
    lat = [x * 1000 for x in result.latency_s]
    lag = [x * 1000 for x in result.dispatch_lag_s]
    return {
        "rate_rps": rate, "requests": n, "errors": result.errors,
        "throughput_rps": len(lat) / max(result.finished_at - result.started_at, seconds),
        "p50_ms": statistics.median(lat), "p90_ms": _percentile(lat, 0.90),
        "p99_ms": _percentile(lat, 0.99), "max_ms": max(lat),
        "dispatch_lag_p99_ms": _percentile(lag, 0.99),
        # Includes the warm-up requests (one per connection) and connection set-up.
        "server_cpu_ms_per_request": cpu_server * 1000 / (n + connections),
        "client_cpu_ms_per_request": cpu_client * 1000 / (n + connections),
        "wall_s": wall, "loadavg_1min_before": load_before,
    }


def _event_loop_run(coro: Coroutine[Any, Any, _OpenLoop]) -> _OpenLoop:
    """Run on uvloop when installed (less client CPU per request), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per-figure medians over repeated runs."""
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


# ---------------------------------------------------------------------------- patient list


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
    ap.add_argument("--rate", default="300,500",
                    help="assess requests/s, comma-separated (0: skip)")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--repeat", type=int, default=3, help="runs per rate (medians reported)")
    ap.add_argument("--connections", type=int, default=32, help="keep-alive client sockets")
    ap.add_argument("--patients", type=int, default=100_000, help="0: skip the list test")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--http", default="auto", help="uvicorn --http (auto, h11, httptools)")
    ap.add_argument("--loop", default="auto", help="uvicorn --loop (auto, asyncio, uvloop)")
    args = ap.parse_args()
    rates = [float(r) for r in args.rate.split(",") if float(r) > 0]
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        base, proc = _start_server(db_url, workers=args.workers, http=args.http, loop=args.loop)
        try:
            r = httpx.post(f"{base}/api/v1/auth/token",
                           json={"username": "bench", "password": PASSWORD})
            token = r.json()["access_token"]
            out: dict = {"server": {"workers": args.workers, "http": args.http,
                                    "loop": args.loop}}
            for rate in rates:
                runs = []
                for _ in range(args.repeat):
                    runs.append(load_assess(base, token, rate, args.seconds, proc.pid,
                                            args.connections))
                    print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
                out[f"assess_{rate:g}"] = {"median": medians(runs), "runs": runs}
            if args.patients:
                out["patient_list"] = patient_list_first_page(
                    base, {"Authorization": f"Bearer {token}"}, db_url, args.patients
                )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
