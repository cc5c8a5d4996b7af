"""Peak server memory under unauthenticated 100 MB bodies to ``POST /api/v1/auth/token``.

    python benchmarks/bench_body_limit.py [--mb 100] [--parallel 4] [--rounds 2]
        [--src DIR]   # run the server from another checkout's src/ (e.g. the code before)

Starts uvicorn (one worker, temporary SQLite database) in its own process, then sends
``--rounds`` rounds of ``--parallel`` simultaneous requests of each kind:

* ``declared``: ``Content-Length: <mb> MB`` and a valid JSON body (a huge password);
* ``chunked``: the same body with ``Transfer-Encoding: chunked`` (no length up front).

The client streams each body in 1 MB pieces over a raw socket and stops as soon as the server
has answered (a server that refuses early is not made to swallow the rest). Reported: the
server's resident memory after start-up (VmRSS), its peak until then and over the whole run
(VmHWM, from ``/proc/<pid>/status``), the status codes, how many bytes the client got to send,
and the time.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CHUNK = 1 << 20
SERVER = """
import inspect, sys, uvicorn
from crlm.web.app import create_app
url, port = sys.argv[1], int(sys.argv[2])
app = create_app(url, secret_key="b" * 48)
print("limit" if "max_body_bytes" in inspect.signature(create_app).parameters
      else "no limit", flush=True)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _start(db_url: str, src: Path | None) -> tuple[int, subprocess.Popen[str]]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = f"{src}{os.pathsep}{env.get('PYTHONPATH', '')}"
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, db_url, str(port)], env=env, stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    print(f"server: {proc.stdout.readline().strip()}", file=sys.stderr)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return port, proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _answered(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def _post(port: int, body_mb: int, chunked: bool) -> tuple[int, int]:
    """One request; (status, body bytes the client managed to send)."""
    prefix = b'{"username": "nobody", "password": "'
    suffix = b'"}'
    size = body_mb * 1_000_000
    piece = b"a" * CHUNK
    head = (
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nConnection: close\r\n"
        + ("Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n")
        + "\r\n"
    ).encode()
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(head)
        try:
            parts = [prefix]
            remaining = size - len(prefix) - len(suffix)
            while remaining > 0 or parts:
                if not parts:
                    n = min(CHUNK, remaining)
                    parts.append(piece[:n])
                    remaining -= n
                    if remaining == 0:
                        parts.append(suffix)
                data = parts.pop(0)
                if _answered(sock):
                    break
                sock.sendall(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                sent += len(data)
            else:
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            status_line = sock.recv(64).split(b"\r\n", 1)[0]
            status = int(status_line.split()[1])
        except (OSError, IndexError, ValueError):
            status = 0  # connection reset before an answer could be read
    return status, sent


def _collect(out: list[tuple[int, int]], port: int, body_mb: int, chunked: bool) -> None:
    out.append(_post(port, body_mb, chunked))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--src", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        port, proc = _start(db_url, args.src)
        try:
            time.sleep(1.0)
            baseline_kb = _proc_kb(proc.pid, "VmRSS")
            startup_peak_kb = _proc_kb(proc.pid, "VmHWM")
            results = []
            started = time.perf_counter()
            for kind in ("declared", "chunked"):
                for _ in range(args.rounds):
                    out: list[tuple[int, int]] = []
                    threads = [
                        threading.Thread(
                            target=_collect, args=(out, port, args.mb, kind == "chunked")
                        )
                        for _ in range(args.parallel)
                    ]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                    results.extend({"kind": kind, "status": s, "sent_mb": round(b / 1e6, 1)}
                                   for s, b in out)
            elapsed = time.perf_counter() - started
            peak_kb = _proc_kb(proc.pid, "VmHWM")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    summary = {
        "body_mb": args.mb, "parallel": args.parallel, "rounds": args.rounds,
        "server_rss_after_start_mb": round(baseline_kb / 1024, 1),
        "server_peak_rss_at_start_mb": round(startup_peak_kb / 1024, 1),
        "server_peak_rss_mb": round(peak_kb / 1024, 1),
        "statuses": sorted({r["status"] for r in results}),
        "max_sent_mb": max(r["sent_mb"] for r in results),
        "seconds": round(elapsed, 2),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
