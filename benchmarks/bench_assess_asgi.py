"""Benchmark: the server's CPU per ``POST /api/v1/assess``, in process, without sockets.

    python benchmarks/bench_assess_asgi.py [--requests 2000] [--repeats 5] [--fixed N]

Builds the web app on a temporary SQLite database, issues a bearer token, then calls the ASGI
app directly (no HTTP client, no socket) with ``benchmarks/web_load.py``'s request, one
request after another, and reports the process CPU time per request (median of the repeats).
This is the server-side work the load test pays per request, less uvicorn's HTTP parsing, and
on a shared machine it is steadier than the load test's latency. ``--fixed N`` sends exactly
N requests and prints nothing else, for instruction counting (``valgrind --tool=callgrind``;
subtract a ``--fixed 0`` run).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web_load import ASSESS_PATH, PASSWORD, PATIENT


async def _call(app: Any, scope: dict[str, Any], body: bytes) -> int:
    """One request straight through the ASGI app; returns the status."""
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # never: the app has read the whole body
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _run(app: Any, token: str, n: int) -> None:
    body = json.dumps(PATIENT).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": ASSESS_PATH, "raw_path": ASSESS_PATH.encode(),
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
                    (b"authorization", f"Bearer {token}".encode()),
                    (b"content-length", str(len(body)).encode())],
    }
    for _ in range(n):
        status = await _call(app, dict(scope), body)
        if status != 200:
            raise RuntimeError(f"POST {ASSESS_PATH} answered {status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fixed", type=int, default=None)
    args = parser.parse_args()
    from crlm.registry import users
    from crlm.registry.db import init_db, make_session_factory
    from crlm.web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        with make_session_factory(init_db(url))() as s:
            users.add_user(s, "bench", PASSWORD, "admin", "bench")
            s.commit()
        app = create_app(url, secret_key="b" * 48)
        with TestClient(app) as client:  # runs the lifespan (gc.freeze) as uvicorn does
            token = client.post("/api/v1/auth/token", json={
                "username": "bench", "password": PASSWORD}).json()["access_token"]
            asyncio.run(_run(app, token, 50))  # warm-up
            if args.fixed is not None:
                asyncio.run(_run(app, token, args.fixed))
                print(json.dumps({"requests": args.fixed}))
                return
            gc.collect()
            cpu = []
            for _ in range(args.repeats):
                c0 = time.process_time()
                asyncio.run(_run(app, token, args.requests))
                cpu.append((time.process_time() - c0) / args.requests * 1e6)
    print(json.dumps({"module": str(Path(sys.modules["crlm"].__file__ or "").parent),
                      "requests": args.requests, "repeats": args.repeats,
                      "cpu_us_per_request": round(statistics.median(cpu), 1),
                      "cpu_us_each_repeat": [round(c, 1) for c in cpu]}, indent=2))


if __name__ == "__main__":
    main()
