"""Classifications: hepatectomy complexity, major hepatectomy, Clavien–Dindo, ISGLS PHLF, 50-50.

Couinaud segments are numbered 1–8 with segment 4 split into 4a/4b for the complexity grade;
for "≥ 3 contiguous segments" 4a and 4b count as one segment 4.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from crlm.domain.patient import ClavienDindo, HepatectomyProcedure, IsglsPhlf
from crlm.evidence import cite

P = HepatectomyProcedure
Grade = Literal["I", "II", "III"]

#: Kawaguchi 2020 modified three-level classification (Maki 2023a).
COMPLEXITY_GRADE: dict[HepatectomyProcedure, Grade] = {
    P.wedge_resection: "I",
    P.left_lateral_sectionectomy: "I",
    P.segmentectomy_2: "II",
    P.segmentectomy_3: "II",
    P.segmentectomy_4b: "II",
    P.segmentectomy_5: "II",
    P.segmentectomy_6: "II",
    P.left_hepatectomy: "II",
    P.segmentectomy_1: "III",
    P.segmentectomy_4a: "III",
    P.segmentectomy_7: "III",
    P.segmentectomy_8: "III",
    P.right_posterior_sectionectomy: "III",
    P.right_hepatectomy: "III",
    P.central_hepatectomy: "III",
    P.extended_left_hepatectomy: "III",
    P.extended_right_hepatectomy: "III",
    P.bile_duct_resection: "III",
}
_GRADE_ORDER: dict[Grade, int] = {"I": 1, "II": 2, "III": 3}

#: Segments each procedure removes (wedge resections and bile-duct resection remove none whole).
SEGMENTS: dict[HepatectomyProcedure, frozenset[int]] = {
    P.wedge_resection: frozenset(),
    P.bile_duct_resection: frozenset(),
    P.left_lateral_sectionectomy: frozenset({2, 3}),
    P.segmentectomy_1: frozenset({1}),
    P.segmentectomy_2: frozenset({2}),
    P.segmentectomy_3: frozenset({3}),
    P.segmentectomy_4a: frozenset({4}),
    P.segmentectomy_4b: frozenset({4}),
    P.segmentectomy_5: frozenset({5}),
    P.segmentectomy_6: frozenset({6}),
    P.segmentectomy_7: frozenset({7}),
    P.segmentectomy_8: frozenset({8}),
    P.left_hepatectomy: frozenset({2, 3, 4}),
    P.right_hepatectomy: frozenset({5, 6, 7, 8}),
    P.right_posterior_sectionectomy: frozenset({6, 7}),
    P.central_hepatectomy: frozenset({4, 5, 8}),
    P.extended_right_hepatectomy: frozenset({4, 5, 6, 7, 8}),
    P.extended_left_hepatectomy: frozenset({2, 3, 4, 5, 8}),
}

#: Couinaud segments that share a border (used to count contiguous segments).
ADJACENT: frozenset[frozenset[int]] = frozenset(
    frozenset(pair)
    for pair in [(1, 4), (1, 7), (1, 8), (2, 3), (2, 4), (3, 4), (4, 5), (4, 8), (5, 6),
                 (5, 8), (6, 7), (7, 8)]
)
MAJOR_MIN_CONTIGUOUS_SEGMENTS = 3


class ComplexityResult(BaseModel):
    """The complexity grade of a planned liver resection and the procedure(s) that set it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grade: Grade
    driving_procedures: list[str]
    major_hepatectomy: bool
    resected_segments: list[int]
    evidence: list[str]


def hepatectomy_complexity(procedures: Iterable[HepatectomyProcedure]) -> ComplexityResult | None:
    """Highest Kawaguchi grade among the procedures; None when no procedure is planned."""
    procs = list(dict.fromkeys(procedures))
    if not procs:
        return None
    top = max((COMPLEXITY_GRADE[p] for p in procs), key=_GRADE_ORDER.__getitem__)
    segments = resected_segments(procs)
    return ComplexityResult(
        grade=top,
        driving_procedures=[p.value for p in procs if COMPLEXITY_GRADE[p] == top],
        major_hepatectomy=is_major_hepatectomy(procs),
        resected_segments=sorted(segments),
        evidence=cite("kawaguchi2020_complexity", "maki2023_sequencing", "strasberg2000"),
    )


def resected_segments(procedures: Iterable[HepatectomyProcedure]) -> set[int]:
    """Union of whole segments removed by the procedures."""
    out: set[int] = set()
    for p in procedures:
        out |= SEGMENTS[p]
    return out


def largest_contiguous_block(segments: set[int]) -> int:
    """Size of the largest group of resected segments connected by shared borders."""
    seen: set[int] = set()
    best = 0
    for start in segments:
        if start in seen:
            continue
        stack, size = [start], 0
        seen.add(start)
        while stack:
            s = stack.pop()
            size += 1
            for t in segments - seen:
                if frozenset({s, t}) in ADJACENT:
                    seen.add(t)
                    stack.append(t)
        best = max(best, size)
    return best


def is_major_hepatectomy(procedures: Iterable[HepatectomyProcedure]) -> bool:
    """Major hepatectomy = resection of ≥ 3 contiguous segments (Brisbane 2000)."""
    return largest_contiguous_block(resected_segments(procedures)) >= MAJOR_MIN_CONTIGUOUS_SEGMENTS


_CD_ORDER = [ClavienDindo.I, ClavienDindo.II, ClavienDindo.IIIa, ClavienDindo.IIIb,
             ClavienDindo.IVa, ClavienDindo.IVb, ClavienDindo.V]


def is_major_complication(grade: ClavienDindo) -> bool:
    """Clavien–Dindo ≥ IIIa is a major complication (Dindo 2004)."""
    return _CD_ORDER.index(grade) >= _CD_ORDER.index(ClavienDindo.IIIa)


def worst_complication(grades: Iterable[ClavienDindo]) -> ClavienDindo | None:
    """The highest Clavien–Dindo grade of several complications."""
    found = list(grades)
    return max(found, key=_CD_ORDER.index) if found else None


PhlfManagement = Literal["unchanged", "non_invasive", "invasive"]


def isgls_phlf_grade(
    *, increased_inr_and_bilirubin_on_or_after_pod5: bool, management: PhlfManagement
) -> IsglsPhlf:
    """ISGLS PHLF (Rahbari 2011): none, or A (no change in management), B (non-invasive
    treatment), C (invasive treatment)."""
    if not increased_inr_and_bilirubin_on_or_after_pod5:
        return IsglsPhlf.none
    return {"unchanged": IsglsPhlf.A, "non_invasive": IsglsPhlf.B,
            "invasive": IsglsPhlf.C}[management]


BILIRUBIN_UMOL_PER_MG_DL = 17.104


def bilirubin_umol_l(bilirubin_mg_dl: float) -> float:
    """Convert serum bilirubin mg/dL → µmol/L."""
    return bilirubin_mg_dl * BILIRUBIN_UMOL_PER_MG_DL


def fifty_fifty_criteria(prothrombin_time_percent: float, bilirubin_umol_per_l: float) -> bool:
    """Balzan 2005 '50-50 criteria' on POD 5: PT < 50 % and serum bilirubin > 50 µmol/L."""
    return prothrombin_time_percent < 50 and bilirubin_umol_per_l > 50


EVIDENCE = {
    "complexity": cite("kawaguchi2020_complexity"),
    "clavien_dindo": cite("dindo2004"),
    "isgls_phlf": cite("rahbari2011"),
    "fifty_fifty": cite("balzan2005"),
    "major_hepatectomy": cite("strasberg2000"),
}
