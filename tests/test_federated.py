"""crlm.federated: results equal to pooling (crlm and R), vantage6's mock client, disclosure."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from crlm.federated import central
from crlm.federated._disclosure import MIN_CELL, DisclosureError
from crlm.federated.local import LocalNodes
from crlm.stats import kaplan_meier, logrank_test
from crlm.stats.cox import cox_ph
from crlm.stats.logistic import logistic_regression

FIXTURES = Path(__file__).parent / "fixtures"
R = json.loads((FIXTURES / "r_federated.json").read_text())
COVS = ["age_years", "approach", "cea_gt_5", "largest_diameter_cm"]
TOL = 1e-8


@pytest.fixture(scope="module")
def pooled() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "federated_centres.csv")


@pytest.fixture(scope="module")
def frames(pooled: pd.DataFrame) -> list[pd.DataFrame]:
    return [g.reset_index(drop=True) for _, g in pooled.groupby("centre")]


class Recording(LocalNodes):
    """Local nodes that keep every answer a node released."""

    def __init__(self, frames: list[pd.DataFrame]) -> None:
        super().__init__(frames)
        self.released: list[tuple[str, int, dict[str, Any]]] = []

    def run(self, method: str, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        answers = super().run(method, kwargs)
        self.released += [(method, i, a) for i, a in enumerate(answers)]
        return answers


# ------------------------------------------------------------------ equality with pooling


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_equals_pooled_crlm_and_r(frames: list[pd.DataFrame], pooled: pd.DataFrame,
                                      ties: str) -> None:
    fed = central.federated_cox(LocalNodes(frames), "os_days", "os_event", COVS, ties=ties,
                                robust=True)
    ref = cox_ph(pooled, "os_days", "os_event", COVS, ties=ties, strata="centre", robust=True)
    assert fed.names == ref.names
    np.testing.assert_allclose(fed.coef, ref.coef, rtol=0, atol=TOL)
    np.testing.assert_allclose(fed.var, ref.var, rtol=0, atol=TOL)
    np.testing.assert_allclose(fed.naive_var, ref.naive_var, rtol=0, atol=TOL)
    assert fed.loglik == pytest.approx(ref.loglik, abs=TOL)
    r = R[f"cox_{ties}"]
    np.testing.assert_allclose(fed.coef, r["coef"], rtol=0, atol=TOL)
    np.testing.assert_allclose(fed.se, r["se"], rtol=0, atol=TOL)
    np.testing.assert_allclose(fed.naive_se, r["naive_se"], rtol=0, atol=TOL)
    assert fed.loglik == pytest.approx(r["loglik"], abs=TOL)
    assert fed.loglik_null == pytest.approx(r["loglik_null"], abs=TOL)
    assert fed.score_test == pytest.approx(r["score"], abs=1e-7)
    assert (fed.n, fed.events) == (r["n"], r["events"])


def test_logrank_stratified_by_centre_equals_pooled_and_survdiff(
        frames: list[pd.DataFrame], pooled: pd.DataFrame) -> None:
    fed = central.federated_logrank(LocalNodes(frames), "os_days", "os_event", "approach")
    ref = logrank_test(pooled, "os_days", "os_event", "approach", strata="centre")
    assert fed.chisq == pytest.approx(ref.chisq, abs=TOL)
    np.testing.assert_allclose(fed.expected, ref.expected, atol=TOL)
    assert fed.chisq == pytest.approx(R["logrank"]["chisq"], abs=TOL)
    r_exp = np.asarray(R["logrank"]["expected"]).reshape(-1, 3).sum(axis=0)  # strata × groups
    np.testing.assert_allclose(fed.expected, r_exp, atol=TOL)


def test_logistic_equals_pooled_and_glm(frames: list[pd.DataFrame],
                                        pooled: pd.DataFrame) -> None:
    covs = ["age_years", "approach", "sex"]
    fed = central.federated_logistic(LocalNodes(frames), "cea_gt_5", covs)
    ref = logistic_regression(pooled, "cea_gt_5", covs)
    np.testing.assert_allclose(fed.coef, ref.coef, atol=TOL)
    np.testing.assert_allclose(fed.se, ref.se, atol=TOL)
    r = R["logistic"]
    np.testing.assert_allclose([fed.intercept, *fed.coef], r["coef"], rtol=0, atol=TOL)
    np.testing.assert_allclose([fed.intercept_se, *fed.se], r["se"], rtol=0, atol=TOL)
    assert fed.loglik == pytest.approx(r["loglik"], abs=TOL)


@pytest.mark.parametrize("group", [None, "approach"])
def test_binned_km_equals_pooled_km_of_grouped_follow_up(frames: list[pd.DataFrame],
                                                         pooled: pd.DataFrame,
                                                         group: str | None) -> None:
    km = central.federated_km(LocalNodes(frames), "os_days", "os_event", group,
                              max_time=float(pooled["os_days"].max()))
    # every centre × group cell needs 0 or ≥ 5 events per interval: few intervals by group
    assert km.binned and len(km.points) >= (5 if group is None else 1)
    points = np.asarray(km.points)
    idx = np.searchsorted(points, pooled["os_days"], side="left")  # end of each one's interval
    grouped = pooled.assign(os_days=np.where(idx < points.size,
                                             points[np.minimum(idx, points.size - 1)],
                                             pooled["os_days"]))
    ref = kaplan_meier(grouped, "os_days", "os_event", group)
    for level, curve in km.result.groups.items():
        at = ref.groups[level].at(curve.time)
        np.testing.assert_allclose(curve.surv, at["surv"], atol=TOL)
        np.testing.assert_array_equal(curve.n_risk, at["n_risk"])


def test_exact_km_equals_pooled_km_when_every_time_may_be_released(
        frames: list[pd.DataFrame], pooled: pd.DataFrame) -> None:
    km = central.federated_km(LocalNodes(frames), "os_days", "os_event", exact=True,
                              min_cell=1)
    ref = kaplan_meier(pooled, "os_days", "os_event").groups["all"]
    curve = km.result.groups["all"]
    events = np.unique(pooled.loc[pooled["os_event"] == 1, "os_days"])
    np.testing.assert_array_equal(curve.time, events)
    np.testing.assert_allclose(curve.surv, ref.at(events)["surv"], atol=TOL)
    np.testing.assert_allclose(curve.upper, ref.at(events)["upper"], atol=TOL)


def test_exact_event_times_are_refused_under_the_threshold(frames: list[pd.DataFrame]) -> None:
    with pytest.raises(DisclosureError):
        central.federated_km(LocalNodes(frames), "os_days", "os_event", exact=True)


def test_table1_counts_means_and_chi2_equal_pooled(frames: list[pd.DataFrame],
                                                   pooled: pd.DataFrame) -> None:
    from crlm.stats.table1 import categorical_test

    t1 = central.federated_table1(LocalNodes(frames), "approach", categorical=["sex"],
                                  continuous=["age_years"], min_cell=1)  # nothing suppressed
    table = pd.crosstab(pooled["sex"], pooled["approach"]).to_numpy()
    np.testing.assert_array_equal(t1.counts["sex"], table)
    assert t1.p["sex"] == pytest.approx(categorical_test(table)[2], abs=1e-12)
    by = pooled.groupby("approach")["age_years"]
    np.testing.assert_allclose(t1.means["age_years"], by.mean(), atol=1e-9)
    np.testing.assert_allclose(t1.sds["age_years"], by.std(), atol=1e-9)
    from scipy import stats
    anova = stats.f_oneway(*[g.to_numpy() for _, g in by])
    assert t1.p["age_years"] == pytest.approx(anova.pvalue, rel=1e-9)
    assert any("approximate" in n for n in t1.footnotes)
    protected = central.federated_table1(LocalNodes(frames), "approach", categorical=["sex"])
    assert (protected.counts["sex"] <= table).all() and (protected.counts["sex"] < table).any()
    assert any("suppressed and are not included" in n for n in protected.footnotes)


# ------------------------------------------------------------------ vantage6 mock client


def _mock(frames: list[pd.DataFrame]) -> Any:
    mock = pytest.importorskip("vantage6.algorithm.tools.mock_client")
    return mock.MockAlgorithmClient(
        datasets=[[{"database": f, "db_type": "csv"}] for f in frames], module="crlm.federated")


def _central(client: Any, method: str, **kwargs: Any) -> dict[str, Any]:
    task = client.task.create(input_={"method": method, "kwargs": kwargs},
                              organizations=[client.organization_id])
    (result,) = client.wait_for_results(task["id"])
    return result


def test_vantage6_mock_client_runs_the_algorithm(frames: list[pd.DataFrame],
                                                 pooled: pd.DataFrame) -> None:
    client = _mock(frames)
    cox = _central(client, "central_cox", time="os_days", event="os_event", covariates=COVS,
                   ties="efron", robust=True)
    names = ["age_years", "approach[combined]", "approach[reverse]", "cea_gt_5",
             "largest_diameter_cm"]
    got = [cox["coefficients"][n]["coef"] for n in names]
    np.testing.assert_allclose(got, R["cox_efron"]["coef"], rtol=0, atol=TOL)
    np.testing.assert_allclose([cox["coefficients"][n]["se"] for n in names],
                               R["cox_efron"]["se"], rtol=0, atol=TOL)
    lr = _central(client, "central_logrank", time="os_days", event="os_event", group="approach")
    assert lr["chisq"] == pytest.approx(R["logrank"]["chisq"], abs=TOL)
    lg = _central(client, "central_logistic", outcome="cea_gt_5",
                  covariates=["age_years", "approach", "sex"])
    assert lg["intercept"]["coef"] == pytest.approx(R["logistic"]["coef"][0], abs=TOL)
    km = _central(client, "central_km", time="os_days", event="os_event", group="approach",
                  max_time=7000.0, times=[365.25])
    assert km["binned"] and set(km["groups"]) == {"classic", "combined", "reverse"}
    t1 = _central(client, "central_table1", group="approach", categorical=["sex"],
                  continuous=["age_years"])
    assert t1["sizes"] == pooled["approach"].value_counts().to_dict()


# ------------------------------------------------------------------ disclosure

COUNT_KEYS = {"n", "events", "n_risk", "n_event", "counts", "missing", "histogram",
              "n_dropped"}


def _numbers(value: Any) -> list[float]:
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []


def _violations(released: list[tuple[str, int, dict[str, Any]]], frames: list[pd.DataFrame],
                min_cell: int, binned: bool = True) -> list[str]:
    """Every reason an answer should not have left its node."""
    problems = []

    def walk(method: str, node: int, value: Any, key: str | None) -> None:
        rows = len(frames[node])
        if isinstance(value, dict):
            for k, v in value.items():
                walk(method, node, v, k)
            return
        if isinstance(value, list):
            if len(value) == rows and key != "failing":  # one value per patient
                problems.append(f"{method}: a list of {len(value)} values (row level)")
            for v in value:
                walk(method, node, v, key)
            return
        if key in COUNT_KEYS and value is not None and 0 < value < min_cell:
            problems.append(f"{method}: {key} = {value} under {min_cell}")

    for method, node, answer in released:
        walk(method, node, answer, None)
        frame = frames[node]
        raw = {v for v in frame["largest_diameter_cm"].dropna().astype(float)
               if not v.is_integer()}  # e.g. 2.3 cm: no count or sum should equal one
        copied = raw & {float(x) for x in _numbers(answer)}
        if copied:
            problems.append(f"{method}: a patient's value released ({sorted(copied)[:3]})")
        if binned and method in ("km", "logrank", "partial_km", "partial_logrank"):
            frame = frames[node]
            times = set(frame.loc[frame["os_event"] == 1, "os_days"].astype(float))
            leaked = times & {float(x) for x in _numbers(answer)
                              if not float(x).is_integer() or x > 10_000}
            leaked |= times & {float(x) for x in _numbers(answer.get("times", []))}
            if leaked:
                problems.append(f"{method}: event times released ({sorted(leaked)[:3]})")
        if "times" in answer and binned:
            problems.append(f"{method}: event times released with binning on")
    return problems


def _run_everything(nodes: LocalNodes, min_cell: int) -> None:
    central.federated_cox(nodes, "os_days", "os_event", COVS, robust=True, min_cell=min_cell)
    central.federated_logistic(nodes, "cea_gt_5", ["age_years", "sex"], min_cell=min_cell)
    central.federated_logrank(nodes, "os_days", "os_event", "approach", min_cell=min_cell)
    central.federated_km(nodes, "os_days", "os_event", "approach", max_time=7000.0,
                         min_cell=min_cell)
    central.federated_table1(nodes, "approach", categorical=["sex", "extrahepatic_disease"],
                             continuous=["age_years", "largest_diameter_cm"],
                             min_cell=min_cell)


def test_nothing_row_level_or_under_the_threshold_leaves_a_node(
        frames: list[pd.DataFrame], caplog: pytest.LogCaptureFixture) -> None:
    nodes = Recording(frames)
    with caplog.at_level(logging.INFO, logger="crlm.federated"):
        _run_everything(nodes, MIN_CELL)
    assert len(nodes.released) > 20
    assert _violations(nodes.released, frames, MIN_CELL) == []
    logged = [r.getMessage() for r in caplog.records if r.name == "crlm.federated"]
    assert len(logged) == len(nodes.released)  # each node logged each answer it released
    assert all(m.startswith("released by ") for m in logged)


def test_a_rare_covariate_level_makes_the_node_refuse(frames: list[pd.DataFrame]) -> None:
    rare = [f.copy() for f in frames]
    rare[0].loc[rare[0].index[:3], "sex"] = "unknown"  # 3 patients at one centre
    with pytest.raises(DisclosureError, match="level of sex"):
        central.federated_cox(LocalNodes(rare), "os_days", "os_event", ["age_years", "sex"])


def test_the_disclosure_check_catches_small_cells_and_event_times(
        frames: list[pd.DataFrame]) -> None:
    nodes = Recording(frames)
    _run_everything(nodes, 1)  # no protection: small cells do leave the node
    assert any("under 5" in v for v in _violations(nodes.released, frames, MIN_CELL))
    exact = Recording(frames)
    central.federated_km(exact, "os_days", "os_event", exact=True, min_cell=1)
    assert any("event times" in v for v in _violations(exact.released, frames, MIN_CELL))
    one = frames[0][frames[0]["largest_diameter_cm"] % 1 != 0].head(1)  # one patient
    leak = [("table1", 0, {"continuous": {"largest_diameter_cm": [
        {"sum": float(one["largest_diameter_cm"].iloc[0])}]}})]
    assert any("value released" in v for v in _violations(leak, frames, MIN_CELL))


def test_vantage6_wrapper_runs_a_partial_on_the_node_csv(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         frames: list[pd.DataFrame]) -> None:
    """What the algorithm container does: vantage6's wrapper with PKG_NAME, the input file and
    the node's CSV database given by environment variables."""
    wrap = pytest.importorskip("vantage6.algorithm.tools.wrap")
    data = tmp_path / "analysis.csv"
    frames[0].to_csv(data, index=False)
    kwargs = {"time": "os_days", "event": "os_event", "group": "approach",
              "groups": ["classic", "combined", "reverse"]}
    (tmp_path / "input.json").write_text(json.dumps({"method": "partial_logrank",
                                                     "kwargs": kwargs}))
    for key, value in {"PKG_NAME": "crlm.federated", "INPUT_FILE": tmp_path / "input.json",
                       "OUTPUT_FILE": tmp_path / "output.json",
                       "USER_REQUESTED_DATABASE_LABELS": "default",
                       "DEFAULT_DATABASE_URI": data, "DEFAULT_DATABASE_TYPE": "csv"}.items():
        monkeypatch.setenv(key, str(value))
    wrap.wrap_algorithm()
    from crlm.federated.partials import logrank_partial

    got = json.loads((tmp_path / "output.json").read_text())
    assert got == json.loads(json.dumps(logrank_partial(pd.read_csv(data), **kwargs)))


def test_missing_values_and_reference_levels_as_pooled(frames: list[pd.DataFrame],
                                                       pooled: pd.DataFrame) -> None:
    holes = [f.copy() for f in frames]
    holes[0].loc[holes[0].index[:10], "age_years"] = np.nan  # 10 rows dropped at centre A
    holes[1].loc[holes[1].index[:2], "age_years"] = np.nan  # 2: that count is not released
    covs = ["age_years", "approach", "sex"]
    fed = central.federated_cox(LocalNodes(holes), "os_days", "os_event", covs,
                                reference={"approach": "reverse", "sex": "male"})
    ref = cox_ph(pd.concat(holes), "os_days", "os_event", covs, strata="centre",
                 reference={"approach": "reverse", "sex": "male"})
    assert fed.names == ref.names == ["age_years", "approach[classic]", "approach[combined]",
                                      "sex[female]"]
    np.testing.assert_allclose(fed.coef, ref.coef, rtol=0, atol=TOL)
    assert fed.n == ref.n == len(pooled) - 12
    assert fed.dropped.n_dropped == 10  # centre B's 2 dropped rows stay at the centre


def test_a_centre_with_too_few_events_refuses_the_models(frames: list[pd.DataFrame]) -> None:
    few = [f.copy() for f in frames]
    few[3]["os_event"] = 0
    few[3].loc[few[3].index[:3], "os_event"] = 1  # 3 deaths at centre D
    with pytest.raises(DisclosureError, match="patients and events"):
        central.federated_cox(LocalNodes(few), "os_days", "os_event", ["age_years"])
    with pytest.raises(DisclosureError, match="patients and events per group"):
        central.federated_logrank(LocalNodes(few), "os_days", "os_event", "approach")
    with pytest.raises(DisclosureError, match="events and non-events"):
        central.federated_logistic(LocalNodes(few), "os_event", ["age_years"])
