"""Issue 13 item 7: bad input to ``crlm stats`` is a clear message (exit 2) naming the column
and rows, with plain numbers and no numpy warning on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from crlm.cli import app
from crlm.stats.cox import cox_ph

runner = CliRunner()


@pytest.fixture(scope="module")
def colon_csv(reference_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    colon = pd.read_csv(reference_dir / "colon.csv")
    path = tmp_path_factory.mktemp("stats_input") / "colon.csv"
    colon[colon.etype == 2].head(80).to_csv(path, index=False)
    return path


def _write(tmp_path: Path, frame: pd.DataFrame) -> str:
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return str(path)


def _fails(*args: str) -> str:
    result = runner.invoke(app, ["stats", *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "np." not in result.output
    assert "Warning" not in result.output  # no numpy RuntimeWarning leaks
    return " ".join(result.output.split())


def test_text_in_a_numeric_covariate_names_column_and_rows(colon_csv: Path, tmp_path: Path
                                                           ) -> None:
    data = pd.read_csv(colon_csv)
    data["prior"] = data["nodes"].astype("Int64").astype(str).replace("<NA>", None)
    data.loc[3, "prior"] = "abc"
    data.loc[10, "prior"] = "unknown"
    path = _write(tmp_path, data)
    out = _fails("cox", "--data", path, "--time", "time", "--event", "status",
                 "--covariates", "prior,age")
    assert 'prior: numeric column holds text (row 4: "abc"; row 11: "unknown")' in out
    # declared categorical, the same column is a factor on purpose (one level per value)
    declared = runner.invoke(app, ["stats", "cox", "--data", path, "--time", "time", "--event",
                                   "status", "--covariates", "prior,age", "--categorical",
                                   "prior"])
    assert "holds text" not in declared.output and "prior[" in declared.output


def test_all_censored_logrank_and_cutpoint_are_input_errors(colon_csv: Path, tmp_path: Path
                                                            ) -> None:
    path = _write(tmp_path, pd.read_csv(colon_csv).assign(status=0))
    out = _fails("logrank", "--data", path, "--time", "time", "--event", "status",
                 "--group", "rx")
    assert "status: no events: every patient is censored" in out
    out = _fails("cutpoint", "--data", path, "--time", "time", "--event", "status",
                 "--marker", "age")
    assert "status: no events: every patient is censored" in out


def test_messages_show_plain_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame({"time": [5.0, 8, 12, 4], "status": [1.0, 2, 0, 1],
                          "a": [2.0, 2.0, 2.0, 2.0]})
    out = _fails("cox", "--data", _write(tmp_path, frame), "--time", "time", "--event",
                 "status", "--covariates", "a")
    assert "found 2;" not in out and "status: event must be 0 (censored) or 1 (event); found 2" \
        in out
    out = _fails("cox", "--data", _write(tmp_path, frame.assign(status=[1, 0, 0, 1])),
                 "--time", "time", "--event", "status", "--covariates", "a")
    assert "a: constant covariate (every value is 2)" in out


def test_roc_error_names_the_outcome_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"marker": [1.0, 2.0, 3.0], "relapse": [1, 1, 0]})
    out = _fails("roc", "--data", _write(tmp_path, frame), "--marker", "marker",
                 "--outcome", "relapse")
    assert "relapse: ROC needs at least two patients with and two without the outcome" in out


def test_monotone_likelihood_cox_is_a_clear_error(tmp_path: Path) -> None:
    frame = pd.DataFrame({"time": [5, 8, 12], "status": [1, 1, 0], "a": [1.0, 2.0, 3.0],
                          "b": [0, 1, 1]})
    out = _fails("cox", "--data", _write(tmp_path, frame), "--time", "time", "--event",
                 "status", "--covariates", "a,b")
    assert "coefficient diverges to infinity" in out


R_SMALL = json.loads((Path(__file__).resolve().parent / "fixtures" / "r_parity.json"
                      ).read_text())["cox_small"]


def test_non_converged_cox_warns_in_result_and_on_stderr(tmp_path: Path) -> None:
    frame = pd.DataFrame({"time": [17, 13, 13], "status": [1, 0, 1], "a": [0.3, 1.0, -1.6],
                          "b": [0, 1, 2]})
    assert "did not converge" in R_SMALL["not_converged"]["warning"]
    with pytest.warns(UserWarning, match="did not converge"):
        fit = cox_ph(frame, "time", "status", ["a", "b"])
    assert fit.warnings and "may be infinite" in fit.warnings[0]
    path = _write(tmp_path, frame)
    result = runner.invoke(app, ["stats", "cox", "--data", path, "--time", "time", "--event",
                                 "status", "--covariates", "a,b", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["warnings"] == fit.warnings
    assert "warning: the fit did not converge" in result.stderr
    assert "RuntimeWarning" not in result.stderr and "LinAlgWarning" not in result.stderr


def test_cox_covariate_without_information_is_named(tmp_path: Path) -> None:
    frame = pd.DataFrame({"time": [13, 13, 8], "status": [1, 1, 0], "a": [2, 1, 1],
                          "b": [1, 0, 1]})
    assert R_SMALL["aliased"]["coef_na"] == [False, True]  # R: b is NA
    out = _fails("cox", "--data", _write(tmp_path, frame), "--time", "time", "--event",
                 "status", "--covariates", "a,b")
    assert "b: cannot be estimated" in out


def test_regular_fit_has_no_warning(colon_csv: Path) -> None:
    fit = cox_ph(pd.read_csv(colon_csv), "time", "status", ["age", "nodes", "rx"])
    assert fit.warnings == []
