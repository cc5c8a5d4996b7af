"""A fresh clone needs nothing outside the repository (tests, README, docs, benchmarks)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"\.\./shared|parents\[2\]|REPO\.parent\b")


def test_no_test_readme_or_doc_reaches_outside_the_repository() -> None:
    files = [REPO / "README.md", REPO / "Makefile", *REPO.glob("docs/**/*.md"),
             *REPO.glob("tests/**/*.py"), *REPO.glob("tests/fixtures/r/*.R"),
             *REPO.glob("benchmarks/*.py")]
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for path in files if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_r_reference_data_is_in_the_repository(reference_dir: Path) -> None:
    assert reference_dir.is_relative_to(REPO)
    for name in ("colon.csv", "ref_colon_cox.json", "ref_colon_rmst2000.json"):
        assert (reference_dir / name).stat().st_size > 0
