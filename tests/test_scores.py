"""Prognostic scores: hand-worked cases, every published boundary, missing-input ranges."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crlm.clinical.scores import (
    ContourModel,
    all_scores,
    contour_five_year_survival,
    fong_clinical_risk_score,
    game_score,
    modified_clinical_score,
    molecular_risk_profile,
    nordlinger_score,
    rcs_basis,
    tumour_burden_score,
)
from crlm.domain import parse_patient
from crlm.domain.patient import Mutation
from crlm.evidence import BIBLIOGRAPHY

# ---------------------------------------------------------------------------- Fong


def test_fong_worked_example() -> None:
    # N+ (1) + synchronous DFI 0 < 12 (1) + 4 tumours > 1 (1) + CEA 12 ≤ 200 (0) + 3.2 ≤ 5 (0) = 3
    r = fong_clinical_risk_score(True, 0, 4, 12.0, 3.2)
    assert r.value == 3 and r.risk_group == "high"
    assert r.expected_outcome == "5-year OS 20 %, median OS 33 months (Fong 1999, score 3)"
    assert r.missing == [] and r.range is None


@pytest.mark.parametrize(
    ("cea", "diameter", "dfi", "expected"),
    [
        (200.0, 5.0, 12.0, 0),  # exactly at every cut-off: "> 200", "> 5", "< 12" → 0 points
        (200.1, 5.0, 12.0, 1),
        (200.0, 5.01, 12.0, 1),
        (200.0, 5.0, 11.9, 1),
        (200.1, 5.01, 11.9, 3),
    ],
)
def test_fong_boundaries(cea: float, diameter: float, dfi: float, expected: int) -> None:
    assert fong_clinical_risk_score(False, dfi, 1, cea, diameter).value == expected


def test_fong_groups_and_outcomes_cover_every_total() -> None:
    expected = {0: ("low", 60, 74), 1: ("low", 44, 51), 2: ("low", 40, 47),
                3: ("high", 20, 33), 4: ("high", 25, 20), 5: ("high", 14, 22)}
    for total, (group, os5, median) in expected.items():
        flags = [True] * total + [False] * (5 - total)
        r = fong_clinical_risk_score(flags[0], 0 if flags[1] else 24, 2 if flags[2] else 1,
                                     201 if flags[3] else 1, 6 if flags[4] else 1)
        assert (r.value, r.risk_group) == (total, group)
        assert f"5-year OS {os5} %" in r.expected_outcome
        assert f"{median} months" in r.expected_outcome


def test_fong_missing_inputs_give_range_and_fields() -> None:
    # known: N+ (1), 4 tumours (1); unknown: DFI, CEA, size → 2..5
    r = fong_clinical_risk_score(True, None, 4, None, None)
    assert r.value is None and r.range == (2, 5)
    assert r.missing == ["labs.cea_ng_ml", "liver.disease_free_interval_months",
                         "liver.largest_diameter_cm"]
    assert r.risk_group is None  # 2..5 spans low and high
    # 3 points known, 2 unknown → 3..5: high whatever the missing values
    r = fong_clinical_risk_score(True, 0, 4, None, None)
    assert r.range == (3, 5) and r.risk_group == "high" and r.expected_outcome is None


# ---------------------------------------------------------------------------- Nordlinger


def test_nordlinger_worked_example_and_boundaries() -> None:
    # age 60 (≥ 60: 1), T4 (1), N+ (1), DFI 24 (not < 24: 0), 4 mets (≥ 4: 1),
    # 5.0 cm (≥ 5: 1), margin 10 mm (not < 10: 0) → 5 = high, 2-y survival 43 %
    r = nordlinger_score(60, True, True, 24, 4, 5.0, 10)
    assert r.value == 5 and r.risk_group == "high" and "43 %" in r.expected_outcome
    assert nordlinger_score(59.9, False, False, 23.9, 3, 4.99, 9.9).value == 2
    assert nordlinger_score(59.9, False, False, 24, 3, 4.99, 10).value == 0
    assert nordlinger_score(70, True, True, 0, 5, 6, 0).value == 7
    r = nordlinger_score(61, False, True, 0, 1, 1, 5)  # 1+0+1+1+0+0+1 = 4
    assert (r.value, r.risk_group) == (4, "intermediate") and "60 %" in r.expected_outcome
    assert "AHPBA guideline 2025" in r.note


def test_nordlinger_serosal_invasion_from_t_category() -> None:
    base = {"age_years": 50, "primary": {"node_positive": False},
            "liver": {"disease_free_interval_months": 30, "number_of_metastases": 1,
                      "largest_diameter_cm": 2}}
    for t, point in (("T4b", 1), ("T4a", 1), ("T3", 0)):
        p = parse_patient({**base, "primary": {"node_positive": False, "t_category": t},
                           "liver": {**base["liver"], "margin_mm": 12}})
        assert all_scores(p)["nordlinger"].value == point
    r = all_scores(parse_patient({**base, "liver": {**base["liver"], "margin_mm": 12}}))
    assert r["nordlinger"].value is None and r["nordlinger"].range == (0, 1)
    assert "primary.serosal_invasion" in r["nordlinger"].missing


# ---------------------------------------------------------------------------- TBS and GAME


def test_tbs_worked_example_and_zones() -> None:
    # √(3.2² + 4²) = √(10.24 + 16) = √26.24 = 5.1225
    r = tumour_burden_score(3.2, 4)
    assert r.value == pytest.approx(5.1225, abs=1e-4) and r.risk_group == "medium"
    assert tumour_burden_score(math.sqrt(8), 1).risk_group == "medium"  # √(8+1) = 3 exactly
    assert tumour_burden_score(2.9, 0).risk_group == "low"
    assert tumour_burden_score(0.1, 9).risk_group == "high"  # √(81.01) ≥ 9


def test_tbs_missing_gives_range() -> None:
    r = tumour_burden_score(None, 10)
    assert r.value is None and r.missing == ["liver.largest_diameter_cm"]
    assert r.range[0] == pytest.approx(10.0) and r.risk_group == "high"  # ≥ 10 whatever size


def test_game_worked_example() -> None:
    # KRAS mutant (1) + CEA 20 (≥ 20: 1) + N+ (1) + TBS √(3²+4²) = 5 (medium: 1) + EHD no (0) = 4
    r = game_score(Mutation.mutant, 20.0, True, 3.0, 4, False)
    assert r.value == 4 and r.risk_group == "high" and "11.3 %" in r.expected_outcome
    assert game_score(Mutation.wildtype, 19.9, False, 1.0, 1, False).value == 0
    assert game_score(Mutation.wildtype, 19.9, False, 1.0, 1, True).value == 2  # EHD = 2
    # TBS exactly 9 (9 tumours, diameter → 0 is not allowed; use √(81) with d = 0 impossible):
    # d = √(81 − 64) = √17, n = 8 → TBS 9 → 2 points
    assert game_score(Mutation.wildtype, 1, False, math.sqrt(17), 8, False).value == 2
    assert game_score(Mutation.wildtype, 1, False, 2.0, 2, False).value == 0  # √8 < 3


def test_game_unknown_kras_is_missing_not_wild_type() -> None:
    for kras in (None, Mutation.unknown):
        r = game_score(kras, 5, False, 1, 1, False)
        assert r.value is None and r.range == (0, 1) and r.missing == ["molecular.kras"]
        assert r.risk_group == "low"


def test_game_partial_tbs_uses_known_count() -> None:
    # 10 tumours → TBS ≥ 10 whatever the diameter → 2 points certain: the total is computable
    r = game_score(Mutation.wildtype, 5, False, None, 10, False)
    assert r.value == 2 and r.risk_group == "medium" and r.missing == []
    # 3 tumours, diameter unknown: TBS from √(0+9) = 3 to √(900+9) ≈ 30.2 → 1 or 2 points
    r = game_score(Mutation.wildtype, 5, False, None, 3, False)
    assert r.value is None and r.range == (1, 2) and r.missing == ["liver.largest_diameter_cm"]


def test_mcs() -> None:
    assert modified_clinical_score(Mutation.mutant, True, 5.01).value == 3
    assert modified_clinical_score(Mutation.wildtype, False, 5.0).value == 0
    r = modified_clinical_score(None, True, 6)
    assert r.value is None and r.range == (2, 3)
    assert r.missing == ["molecular.kras", "molecular.nras"] and r.risk_group is None


def test_ras_from_patient_needs_both_genes_for_wild_type() -> None:
    p = parse_patient({"molecular": {"kras": "wildtype"}, "primary": {"node_positive": False},
                       "liver": {"largest_diameter_cm": 2, "number_of_metastases": 1}})
    assert all_scores(p)["mcs"].range == (0, 1)
    p = parse_patient({"molecular": {"nras": "mutant"}, "primary": {"node_positive": False},
                       "liver": {"largest_diameter_cm": 2, "number_of_metastases": 1}})
    assert all_scores(p)["mcs"].value == 1


# ---------------------------------------------------------------------------- contour model


def _model() -> ContourModel:
    return ContourModel.model_validate({
        "format": "crlm-contour-model", "version": 1, "description": "test model",
        "strata": {
            "mutant": {"baseline_survival_5y": 0.5, "mean_linear_predictor": 0.0,
                       "terms": [{"variable": "largest_diameter_cm", "transform": "linear",
                                  "coef": [0.1]},
                                 {"variable": "number_of_metastases", "transform": "log",
                                  "coef": [0.2]}]},
            "wildtype": {"baseline_survival_5y": 0.7, "terms": []},
        },
    })


def test_contour_model_evaluates_documented_formula() -> None:
    # lp = 0.1·3 + 0.2·ln 4 ; S = 0.5 ** exp(lp)
    lp = 0.1 * 3 + 0.2 * math.log(4)
    r = contour_five_year_survival(_model(), Mutation.mutant, 3.0, 4)
    assert r.value == pytest.approx(round(100 * 0.5 ** math.exp(lp), 2))
    assert contour_five_year_survival(_model(), Mutation.wildtype, 3.0, 4).value == 70.0


def test_contour_without_model_or_inputs_is_missing() -> None:
    r = contour_five_year_survival(None, Mutation.mutant, 3.0, 4)
    assert r.value is None and r.missing == ["contour model file"]
    r = contour_five_year_survival(_model(), None, 3.0, None)
    assert r.missing == ["liver.number_of_metastases", "molecular.kras", "molecular.nras"]


def test_rcs_basis_is_linear_beyond_last_knot() -> None:
    knots = [1.0, 3.0, 5.0, 8.0]
    b = [rcs_basis(x, knots) for x in (9.0, 10.0, 11.0)]
    for j in range(1, 3):
        assert b[2][j] - b[1][j] == pytest.approx(b[1][j] - b[0][j])


# ---------------------------------------------------------------------------- profile, property


def test_molecular_profile() -> None:
    p = parse_patient({"molecular": {"kras": "mutant", "tp53": "wildtype", "smad4": "wildtype",
                                     "braf": "non_v600e", "apc": "mutant"}})
    prof = molecular_risk_profile(p)
    assert prof.ras_tp53_comutation is False and prof.ras_without_tp53_smad4 is True
    assert prof.genes["apc"] == "altered: better prognosis"
    assert prof.genes["braf"].startswith("non-V600E")
    assert "molecular.nras" in prof.missing


scores_inputs = st.fixed_dictionaries({
    "n_plus": st.none() | st.booleans(),
    "dfi": st.none() | st.floats(0, 600),
    "n": st.none() | st.integers(0, 200),
    "cea": st.none() | st.floats(0, 100000),
    "d": st.none() | st.floats(0.01, 30),
})


@given(scores_inputs)
def test_range_always_contains_every_completion(x: dict) -> None:
    r = fong_clinical_risk_score(x["n_plus"], x["dfi"], x["n"], x["cea"], x["d"])
    full = fong_clinical_risk_score(
        x["n_plus"] if x["n_plus"] is not None else True,
        x["dfi"] if x["dfi"] is not None else 0,
        x["n"] if x["n"] is not None else 5,
        x["cea"] if x["cea"] is not None else 500,
        x["d"] if x["d"] is not None else 10,
    )
    if r.value is None:
        lo, hi = r.range
        assert lo <= full.value <= hi and full.value == hi
        assert r.missing
    else:
        assert r.value == full.value and 0 <= r.value <= 5


def test_every_score_cites_known_evidence() -> None:
    for s in all_scores(parse_patient({})).values():
        assert s.evidence and all(k in BIBLIOGRAPHY for k in s.evidence)
