"""Start-up CPU of the ``crlm`` command: ``crlm --help`` and ``crlm assess EXAMPLE``.

CPU time (user + system) of each child process, from ``resource.getrusage(RUSAGE_CHILDREN)``
around the run; median of ``--runs`` runs after one warm-up (file cache, .pyc). Targets
(issue 14): ``--help`` ≤ 0.25 s, ``assess`` ≤ 0.35 s. Usage:
``python benchmarks/bench_startup.py [--runs 7] [--crlm .venv/bin/crlm]``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"crlm --help": 0.25, "crlm assess": 0.35}


def child_cpu(cmd: list[str]) -> float:
    """CPU seconds (user + system) the command used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_cpu(cmd: list[str], runs: int) -> float:
    child_cpu(cmd)  # warm-up
    return statistics.median(child_cpu(cmd) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    default = Path(sys.executable).parent / "crlm"
    parser.add_argument("--crlm", default=str(default if default.exists() else
                                              shutil.which("crlm") or "crlm"))
    args = parser.parse_args()
    example = REPO / "examples" / "synchronous_rectal.json"
    commands = {"crlm --help": [args.crlm, "--help"],
                "crlm assess": [args.crlm, "assess", str(example)]}
    print(f"{'command':<14} {'target s':>9} {'median CPU s':>13}  met")
    for label, cmd in commands.items():
        measured = median_cpu(cmd, args.runs)
        target = TARGETS[label]
        met = "yes" if measured <= target else "NO"
        print(f"{label:<14} {target:>9.2f} {measured:>13.3f}  {met}")


if __name__ == "__main__":
    main()
