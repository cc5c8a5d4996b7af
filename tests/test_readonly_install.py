"""A hardened install: crlm in a read-only folder, run by an unprivileged user with no HOME.

The package is installed (``pip install --target``, built from this checkout) into a temporary
folder that is then made read-only; ``python -m crlm stats cox`` and ``crlm analyze`` run
with HOME pointing nowhere writable and the dependencies taken from this environment's
site-packages. As root (CI) the commands run as ``nobody`` through ``setpriv``, so nothing
can be written anywhere but the output folder; without root or setpriv the read-only folders
are only simulated. Before numba's cache directory was chosen at run time this failed with
"cannot cache function ... no locator available".
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from crlm.stats import _kernels

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
NOBODY = 65534


def _as_nobody() -> list[str]:
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("setpriv"):
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return []


@pytest.fixture(scope="module")
def install() -> Iterator[Path]:
    """crlm installed from this checkout into a read-only folder (world-readable)."""
    root = Path(tempfile.mkdtemp(prefix="crlm-ro-"))
    root.chmod(0o755)
    target = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-compile", "--target", str(target),
                    str(REPO)], check=True, timeout=300, capture_output=True)
    for path in [target, *target.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod((mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
                    | (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH if path.is_dir() else 0))
                   & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    yield target
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    shutil.rmtree(root, ignore_errors=True)


def _run(target: Path, args: list[str], workdir: Path, extra_env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    """``python -S -m crlm ARGS`` from the read-only install: no site, no HOME to write."""
    deps = sysconfig.get_paths()["purelib"]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8",
           "PYTHONPATH": os.pathsep.join([str(target), deps]), "PYTHONDONTWRITEBYTECODE": "",
           "CRLM_NUMBA_MIN_ROWS": "0",  # the compiled loops (and their cache) even on small data
           **(extra_env or {})}
    python = Path(sys.base_prefix) / "bin" / Path(sys.executable).name
    if not python.exists():
        python = Path(sys.executable)
    return subprocess.run([*_as_nobody(), str(python), "-S", "-m", "crlm", *args], env=env,
                          cwd=workdir, capture_output=True, text=True, timeout=180)


@pytest.fixture()
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="crlm-ro-out-"))
    path.chmod(0o777)  # the only writable place, for the report
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_install_is_really_read_only(install: Path, workdir: Path) -> None:
    if not _as_nobody() and os.geteuid() == 0:
        pytest.skip("root without setpriv: read-only folders cannot be enforced")
    probe = _run(install, ["--version"], workdir)
    assert probe.returncode == 0, probe.stderr
    deny = subprocess.run([*_as_nobody(), "sh", "-c", f"touch {install}/crlm/x"],
                          capture_output=True, text=True)
    assert deny.returncode != 0


def test_stats_cox_runs_from_a_read_only_install(install: Path, workdir: Path) -> None:
    args = ["stats", "cox", "--data", str(workdir / "heart.csv"), "--time", "stop",
            "--event", "event", "--covariates", "age,surgery", "--json"]
    shutil.copy(FIXTURES / "heart.csv", workdir / "heart.csv")
    (workdir / "heart.csv").chmod(0o644)
    no_tmp = workdir / "no-tmp"
    no_tmp.mkdir(mode=0o555)
    # no writable temporary folder either: the compiled loops run without a cache
    done = _run(install, args, workdir, {"TMPDIR": str(no_tmp)})
    assert done.returncode == 0, done.stderr
    assert '"coefficients"' in done.stdout and "locator" not in done.stderr
    where = _run(install, ["--version"], workdir)
    assert where.stdout.strip().startswith("crlm ")


def test_analyze_runs_from_a_read_only_install(install: Path, workdir: Path) -> None:
    cohort = workdir / "tsh.csv"
    made = _run(install, ["synth", "tsh", "--n", "120", "--seed", "1", "--out", str(cohort)],
                workdir)
    assert made.returncode == 0, made.stderr
    shutil.copy(REPO / "examples" / "tsh.toml", workdir / "tsh.toml")
    (workdir / "tsh.toml").chmod(0o644)
    scratch = workdir / "tmp"  # numba's cache and matplotlib's config: a private temp folder
    scratch.mkdir(mode=0o777)
    scratch.chmod(0o777)
    # the C loops off, so that numba runs every loop here and has to cache them somewhere
    # (test_stats_cox_runs_from_a_read_only_install runs the C loops)
    done = _run(install, ["analyze", str(cohort), "--config", str(workdir / "tsh.toml"),
                          "--out", str(workdir / "report")], workdir,
                {"TMPDIR": str(scratch), "CRLM_NO_C": "1"})
    assert done.returncode == 0, done.stderr
    assert (workdir / "report" / "report.html").is_file()
    assert "Traceback" not in done.stderr
    if _as_nobody():  # the compiled loops were cached in the private temporary folder
        assert any((scratch / f"crlm-numba-{NOBODY}").rglob("*.nbi"))


def test_the_package_imported_is_the_read_only_copy(install: Path, workdir: Path) -> None:
    deps = sysconfig.get_paths()["purelib"]
    code = ("import crlm, crlm.stats._kernels as k\n"
            "print(getattr(k.C_LOOPS, '__file__', 'no-C-loops'))\nprint(crlm.__file__)")
    python = Path(sys.base_prefix) / "bin" / Path(sys.executable).name
    done = subprocess.run([*_as_nobody(), str(python if python.exists() else sys.executable),
                           "-S", "-c", code], capture_output=True, text=True, timeout=120,
                          env={"HOME": "/nonexistent",
                               "PYTHONPATH": os.pathsep.join([str(install), deps])},
                          cwd=workdir)
    assert done.returncode == 0, done.stderr
    c_loops, package = done.stdout.split()
    assert package.startswith(str(install))
    if _kernels.C_LOOPS is not None:  # built here, so built into the read-only copy too
        assert c_loops.startswith(str(install))
