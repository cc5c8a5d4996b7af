"""Hepatectomy complexity (Kawaguchi 2020), major hepatectomy, Clavien–Dindo, ISGLS, 50-50."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crlm.clinical.classify import (
    COMPLEXITY_GRADE,
    bilirubin_umol_l,
    fifty_fifty_criteria,
    hepatectomy_complexity,
    is_major_complication,
    is_major_hepatectomy,
    isgls_phlf_grade,
    worst_complication,
)
from crlm.domain.patient import ClavienDindo, HepatectomyProcedure, IsglsPhlf

P = HepatectomyProcedure


@pytest.mark.parametrize(
    ("procedures", "grade", "major"),
    [
        ([P.wedge_resection], "I", False),
        ([P.left_lateral_sectionectomy], "I", False),
        ([P.segmentectomy_6], "II", False),
        ([P.segmentectomy_4b, P.wedge_resection], "II", False),
        ([P.left_hepatectomy], "II", True),  # segments 2, 3, 4: three contiguous
        ([P.segmentectomy_7], "III", False),
        ([P.segmentectomy_4a], "III", False),
        ([P.right_posterior_sectionectomy], "III", False),  # 6 + 7: two segments
        ([P.right_hepatectomy, P.wedge_resection], "III", True),
        ([P.wedge_resection, P.bile_duct_resection], "III", False),  # bile duct → III
        ([P.segmentectomy_5, P.segmentectomy_6, P.segmentectomy_7], "III", True),
        ([P.segmentectomy_2, P.segmentectomy_6, P.segmentectomy_8], "III", False),  # not contiguous
    ],
)
def test_complexity_and_major(procedures: list[P], grade: str, major: bool) -> None:
    r = hepatectomy_complexity(procedures)
    assert r is not None and (r.grade, r.major_hepatectomy) == (grade, major)
    assert set(r.driving_procedures) <= {p.value for p in procedures}


def test_no_procedure_is_not_graded() -> None:
    assert hepatectomy_complexity([]) is None


@given(st.lists(st.sampled_from(list(P)), min_size=1, max_size=6))
def test_highest_grade_wins(procs: list[P]) -> None:
    r = hepatectomy_complexity(procs)
    order = {"I": 1, "II": 2, "III": 3}
    assert r is not None
    assert order[r.grade] == max(order[COMPLEXITY_GRADE[p]] for p in procs)
    assert is_major_hepatectomy(procs) == r.major_hepatectomy


def test_every_procedure_has_a_grade() -> None:
    assert set(COMPLEXITY_GRADE) == set(P)


def test_clavien_dindo() -> None:
    assert not is_major_complication(ClavienDindo.II)
    assert is_major_complication(ClavienDindo.IIIa)
    assert worst_complication([ClavienDindo.I, ClavienDindo.IVa, ClavienDindo.II]) == "IVa"
    assert worst_complication([]) is None


def test_isgls_and_fifty_fifty() -> None:
    assert isgls_phlf_grade(increased_inr_and_bilirubin_on_or_after_pod5=False,
                            management="invasive") == IsglsPhlf.none
    assert isgls_phlf_grade(increased_inr_and_bilirubin_on_or_after_pod5=True,
                            management="non_invasive") == IsglsPhlf.B
    assert fifty_fifty_criteria(49.9, 50.1)
    assert not fifty_fifty_criteria(50.0, 60)  # PT must be < 50 %
    assert not fifty_fifty_criteria(40, 50.0)  # bilirubin must be > 50 µmol/L
    assert bilirubin_umol_l(3.0) == pytest.approx(51.312)
