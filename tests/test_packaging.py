"""The source distribution is complete and the metadata declares the license and extras."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sdist_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir",
                    str(out), str(REPO)], check=True, capture_output=True, timeout=300)
    (archive,) = out.glob("crlm-*.tar.gz")
    with tarfile.open(archive) as tar:
        return {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}


def test_sdist_carries_tests_fixtures_examples_docs_benchmarks(sdist_names: set[str]) -> None:
    for name in ("LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "MANIFEST.in",
                 "tests/conftest.py", "tests/test_packaging.py", "tests/fixtures/heart.csv",
                 "tests/fixtures/r/common.R", "examples/synchronous_rectal.json",
                 "examples/maki2023.toml", "docs/rules.md", "benchmarks/bench_startup.py",
                 "benchmarks/RESULTS.md", "src/crlm/stats/_loops.py", "setup.py",
                 "src/crlm/stats/_cloops.c",
                 "src/crlm/web/templates/base.html"):
        assert name in sdist_names, name
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in sdist_names)


def test_metadata_license_and_extras() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert "Apache License" in (REPO / "LICENSE").read_text()[:200]
    extras = project["optional-dependencies"]
    assert {"web", "postgres", "reports", "fast", "all", "dev"} <= set(extras)
    runtime = " ".join(project["dependencies"])
    for dev_only in ("lifelines", "httpx", "statsmodels", "numba", "fastapi", "weasyprint"):
        assert dev_only not in runtime
