"""Issue 13: statistics that must equal R's where ties, admissible cuts and level order matter.

Fixtures come from ``tests/fixtures/r/r_parity.R`` (survival 3.5, maxstat 0.7, etm 1.1,
riskRegression 2022.11, R 4.2 in C.UTF-8 with ICU); R is not needed at test time.
"""

from __future__ import annotations

import json
import time
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crlm.stats._data import collation_key, factor_codes
from crlm.stats._fisher import MONTE_CARLO_DRAWS, MONTE_CARLO_SEED, fisher_exact_rxc
from crlm.stats.competing import cumulative_incidence
from crlm.stats.cox import cox_ph
from crlm.stats.roc import maxstat_cutpoint
from crlm.stats.table1 import categorical_test, table1
from crlm.stats.validation import time_dependent_auc

FIXTURES = Path(__file__).resolve().parent / "fixtures"
R = json.loads((FIXTURES / "r_parity.json").read_text())
TOL = 1e-6


@pytest.fixture(scope="module")
def rotterdam() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "rotterdam.csv")


ROTTERDAM_FITS = {
    "size": (("rtime", "recur"), ["size"]),
    "size_grade_hormon": (("rtime", "recur"), ["size", "grade", "hormon"]),
    "age_grade": (("rtime", "recur"), ["age", "grade"]),
    "all": (("dtime", "death"),
            ["age", "meno", "size", "grade", "nodes", "pgr", "er", "hormon", "chemo"]),
}


@pytest.mark.parametrize("key", list(ROTTERDAM_FITS))
def test_cox_concordance_counts_identical_rows_as_tied(rotterdam: pd.DataFrame, key: str) -> None:
    (time, event), covariates = ROTTERDAM_FITS[key]
    fit = cox_ph(rotterdam, time, event, covariates)
    assert fit.concordance == pytest.approx(R["concordance"][key]["c"], abs=TOL)
    assert fit.concordance_se == pytest.approx(R["concordance"][key]["se"], abs=TOL)


def test_identical_covariate_rows_share_one_linear_predictor(rotterdam: pd.DataFrame) -> None:
    fit = cox_ph(rotterdam, "rtime", "recur", ["age", "grade"])
    lp = pd.Series(fit._linear_predictor)
    spread = lp.groupby([rotterdam["age"], rotterdam["grade"]]).agg(lambda v: v.max() - v.min())
    assert (spread == 0).all()


def test_default_reference_level_is_r_factor_order(rotterdam: pd.DataFrame) -> None:
    fit = cox_ph(rotterdam, "rtime", "recur", ["size"])
    assert fit.references == {"size": "<=20"}
    expected = [f"size[{name.removeprefix('size')}]" for name in R["concordance"]["size"]["names"]]
    assert fit.names == expected
    assert fit.coef.tolist() == pytest.approx(R["concordance"]["size"]["coef"], rel=1e-6)


def test_text_levels_sort_as_r_in_c_utf8() -> None:
    ref = R["levels"]
    assert ref["collate"] == "C.UTF-8"
    codes, levels = factor_codes(pd.Series(ref["words"]))
    assert levels == ref["sorted"]
    assert [levels[c] for c in codes] == ref["words"]
    _, size_levels = factor_codes(pd.Series(["20-50", ">50", "<=20", None, "20-50"]))
    assert size_levels == ref["rotterdam_size"]


def test_ascii_fast_path_agrees_with_the_collation_table() -> None:
    pyuca = pytest.importorskip("pyuca")
    collator = pyuca.Collator()
    rng = np.random.default_rng(13)
    alphabet = [chr(c) for c in range(32, 127)]
    words = ["".join(rng.choice(alphabet, size=rng.integers(1, 5))) for _ in range(400)]
    words += ["a", "A", "ab", "Ab", "a b", "a-b", "a_b", "10", "9", "<=20"]
    words = list(dict.fromkeys(words))
    by_table = sorted(words, key=lambda w: (collator.sort_key(w), [ord(c) for c in w]))
    assert sorted(words, key=collation_key) == by_table


@pytest.mark.parametrize("case, data, columns", [
    ("low_cut", "maxstat_low_cut.csv", ("marker", "time", "status")),
    ("pbc_chol", "pbc_chol.csv", ("chol", "time", "dead")),
])
def test_maxstat_candidate_cuts_match_r(case: str, data: str, columns: tuple[str, str, str]
                                        ) -> None:
    ref = R["maxstat"][case]
    res = maxstat_cutpoint(pd.read_csv(FIXTURES / data), *columns)
    assert res.cuts.tolist() == pytest.approx(ref["cuts"])
    assert res.cutpoint == pytest.approx(ref["cutpoint"])
    assert res.statistic == pytest.approx(ref["statistic"], abs=TOL)
    assert res.p == pytest.approx(ref["p"], abs=TOL)


def test_cumulative_incidence_variance_is_etm_greenwood_type() -> None:
    m = pd.read_csv(FIXTURES / "mgus2.csv")
    m["etime"] = np.where(m.pstat == 0, m.futime, m.ptime)
    m["event"] = np.where(m.pstat == 0, 2 * m.death, 1)
    ref = R["cif"]
    times = np.asarray(ref["times"], dtype=float)
    cif = cumulative_incidence(m, "etime", "event")["all"]
    # deaths of both causes tie at some times: where the estimators differ
    tied = [u for u in times if {1, 2} <= set(m.loc[m.etime == u, "event"])]
    assert tied
    for cause in (1, 2):
        at = cif[cause].at(times)
        assert at.estimate.to_numpy() == pytest.approx(ref[f"est{cause}"], abs=1e-12)
        assert at.variance.to_numpy() == pytest.approx(ref[f"var{cause}"], rel=TOL)


@pytest.mark.parametrize("time_column, key", [("time", "days"), ("months", "coarse")])
def test_time_dependent_auc_matches_riskregression_score(reference_dir: Path, time_column: str,
                                                         key: str) -> None:
    colon = pd.read_csv(reference_dir / "colon.csv")
    cd = colon[(colon.etype == 2) & colon.nodes.notna()].copy()
    cd["months"] = np.ceil(cd.time / 100)  # heavy ties between events and censorings
    for tau, expected in zip(R["auc"][f"{key}_taus"], R["auc"][key], strict=True):
        auc = time_dependent_auc(cd, time_column, "status", "nodes", tau)
        assert auc == pytest.approx(expected, abs=TOL)


def _fisher_table(case: str) -> np.ndarray:
    ref = R["fisher"][case]
    return np.asarray(ref["table"], dtype=np.int64).reshape(ref["nrow"], -1)


@pytest.mark.parametrize("case", ["k10", "k12", "k14", "rc3x4"])
def test_fisher_rxc_matches_r(case: str) -> None:
    test, _, p = categorical_test(_fisher_table(case))
    assert test == "fisher"
    assert p == pytest.approx(R["fisher"][case]["p"], rel=TOL)


def _p_by_counting(table: np.ndarray) -> float:
    """Exact p of a k×2 table with 3 patients per row: P(table) ∝ 3^m, m = rows split 1:2."""
    k, c1 = table.shape[0], int(table[:, 0].sum())
    m_obs = int(np.isin(table[:, 0], (1, 2)).sum())
    hits = 0
    for m in range(k + 1):
        for a in range(m + 1):
            for b in range(k - m + 1):
                if m + a + 3 * b == c1 and m <= m_obs:
                    hits += comb(k, m) * comb(m, a) * comb(k - m, b) * 3**m
    return hits / comb(3 * k, c1)


def test_fisher_k30_is_exact_where_fexact_is_not() -> None:
    table = _fisher_table("k30")
    ref = R["fisher"]["k30"]
    exact = fisher_exact_rxc(table)
    assert not exact.monte_carlo
    assert exact.p == pytest.approx(ref["p_by_counting"], rel=1e-9)
    assert exact.p == pytest.approx(_p_by_counting(table), rel=1e-9)
    # R 4.2's FEXACT returns a p a hundred times too small for this table; its own Monte
    # Carlo estimate agrees with the count
    assert ref["p"] < ref["p_by_counting"] / 100
    assert ref["p_simulated"] == pytest.approx(ref["p_by_counting"], rel=0.1)


def test_fisher_monte_carlo_fallback_is_stated_and_close() -> None:
    table = _fisher_table("k30")
    mc = fisher_exact_rxc(table, budget=0)
    assert mc.monte_carlo and (mc.draws, mc.seed) == (MONTE_CARLO_DRAWS, MONTE_CARLO_SEED)
    exact = R["fisher"]["k30"]["p_by_counting"]
    se = np.sqrt(exact * (1 - exact) / mc.draws)
    assert abs(mc.p - exact) < 4 * se
    assert fisher_exact_rxc(table, budget=0).p == mc.p  # fixed seed: reproducible


def test_table1_fisher_for_200_levels_is_fast_and_exact() -> None:
    rng = np.random.default_rng(200)
    first = rng.integers(0, 4, 200)
    rows = [(f"level {k:03d}", "A" if j < first[k] else "B") for k in range(200) for j in range(3)]
    df = pd.DataFrame(rows, columns=["variable", "arm"])
    start = time.process_time()
    result = table1(df, "arm", categorical=["variable"])
    assert time.process_time() - start < 2.0
    (row,) = result.tests
    assert row.test == "fisher"
    table = np.column_stack([first, 3 - first])
    assert row.p == pytest.approx(_p_by_counting(table), rel=1e-6)


def test_table1_states_a_monte_carlo_p(monkeypatch: pytest.MonkeyPatch) -> None:
    import crlm.stats._fisher as fisher

    monkeypatch.setattr(fisher, "EXACT_BUDGET", 0)
    table = _fisher_table("k14")
    rows = [(f"l{k:02d}", arm) for k in range(table.shape[0])
            for arm, n in zip("AB", table[k], strict=True) for _ in range(n)]
    result = table1(pd.DataFrame(rows, columns=["variable", "arm"]), "arm",
                    categorical=["variable"])
    assert result.tests[0].test == "fisher_mc"
    assert any(f"{MONTE_CARLO_DRAWS:,} random tables" in note and str(MONTE_CARLO_SEED) in note
               for note in result.footnotes)
