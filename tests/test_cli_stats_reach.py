"""``crlm stats``: readable tables keep factor levels; every built analysis is reachable."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crlm.cli import app
from crlm.synth import synthetic_rectal_cohort

runner = CliRunner()


@pytest.fixture(scope="module")
def rectal_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reach") / "rectal.csv"
    synthetic_rectal_cohort(274, seed=1).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("args", [
    ["cox", "--time", "os_days", "--event", "os_event", "--covariates", "approach,age_years"],
    ["logistic", "--outcome", "os_event", "--covariates", "approach"],
    ["regression", "--time", "os_days", "--event", "os_event", "--factors", "approach",
     "--forced", "approach"],
])
def test_readable_tables_keep_factor_levels(rectal_csv: Path, args: list[str]) -> None:
    result = runner.invoke(app, ["stats", *args, "--data", str(rectal_csv)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "[combined]" in result.output and "[reverse]" in result.output, result.output


def test_readable_table1_keeps_bracketed_levels(rectal_csv: Path, tmp_path: Path) -> None:
    import pandas as pd

    df = pd.read_csv(rectal_csv)
    df["grade"] = "[grade " + df.hepatectomy_grade.str.lower() + "]"
    path = tmp_path / "bracket.csv"
    df.to_csv(path, index=False)
    result = runner.invoke(app, ["stats", "table1", "--data", str(path), "--group", "approach",
                                 "--categorical", "grade"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "[grade iii]" in result.output and "[grade i]" in result.output
