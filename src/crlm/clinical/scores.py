"""Published prognostic scores for CRLM, as pure functions (CLINICAL_SPEC §1).

Every score returns a :class:`ScoreResult`. A point score whose inputs are partly unknown has
``value=None``, lists the ``missing`` patient fields, and gives the ``range`` of totals the
missing items could still produce; its risk group is reported only when the whole range falls in
one group. Boundaries are exactly as published: "> 5 cm" gives no point at 5.0 cm.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crlm.domain import Patient
from crlm.domain.patient import BrafStatus, Mutation, Timing
from crlm.evidence import cite

# Plausible bounds of the inputs, used for ranges when a value is unknown (domain limits).
MAX_DIAMETER_CM = 30.0
MIN_METASTASES_FOR_TBS = 1
MAX_METASTASES = 200


class ScoreResult(BaseModel):
    """One score for one patient."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    value: int | float | None
    risk_group: str | None = None
    expected_outcome: str | None = None
    missing: list[str] = Field(default_factory=list)
    range: tuple[int | float, int | float] | None = None
    evidence: list[str]
    note: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def computable(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Criterion:
    """One item of a point score: its points when known, or the range it could add."""

    field: str  # dotted patient field(s) it needs, for "missing"
    label: str
    points: int | None  # None = unknown
    possible: tuple[int, int] = (0, 1)

    @classmethod
    def flag(cls, field: str, label: str, met: bool | None, weight: int = 1) -> Criterion:
        """A yes/no item worth ``weight`` points."""
        return cls(field, label, None if met is None else weight * int(met), (0, weight))


Groups = Sequence[tuple[int, int, str]]  # inclusive (low, high, label)


def _group(groups: Groups, lo: float, hi: float) -> str | None:
    for g_lo, g_hi, label in groups:
        if g_lo <= lo and hi <= g_hi:
            return label
    return None


def point_score(
    name: str,
    criteria: Sequence[Criterion],
    *,
    evidence: list[str],
    groups: Groups = (),
    outcome: Callable[[int], str | None] = lambda _v: None,
    note: str | None = None,
) -> ScoreResult:
    """Sum the criteria; with unknown items report ``missing`` and the possible ``range``."""
    known = sum(c.points for c in criteria if c.points is not None)
    unknown = [c for c in criteria if c.points is None]
    details = {c.label: c.points for c in criteria}
    if not unknown:
        return ScoreResult(
            name=name, value=known, risk_group=_group(groups, known, known) if groups else None,
            expected_outcome=outcome(known), evidence=evidence, note=note, details=details,
        )
    lo = known + sum(c.possible[0] for c in unknown)
    hi = known + sum(c.possible[1] for c in unknown)
    missing = sorted({f for c in unknown for f in c.field.split("|")})
    return ScoreResult(
        name=name, value=None, risk_group=_group(groups, lo, hi) if groups else None,
        missing=missing, range=(lo, hi), evidence=evidence, note=note, details=details,
    )


def _gt(value: float | None, cut: float) -> bool | None:
    return None if value is None else value > cut


def _ge(value: float | None, cut: float) -> bool | None:
    return None if value is None else value >= cut


def _lt(value: float | None, cut: float) -> bool | None:
    return None if value is None else value < cut


def _mutated(status: Mutation | None) -> bool | None:
    if status is None or status == Mutation.unknown:
        return None
    return status == Mutation.mutant


# ---------------------------------------------------------------------------- Fong

FONG_5Y_OS_PERCENT = (60, 44, 40, 20, 25, 14)
FONG_MEDIAN_OS_MONTHS = (74, 51, 47, 33, 20, 22)


def fong_clinical_risk_score(
    node_positive: bool | None,
    disease_free_interval_months: float | None,
    number_of_metastases: int | None,
    cea_ng_ml: float | None,
    largest_diameter_cm: float | None,
) -> ScoreResult:
    """Fong 1999 clinical risk score, 0–5 (low 0–2, high 3–5)."""
    return point_score(
        "fong_crs",
        [
            Criterion.flag("primary.node_positive", "node-positive primary", node_positive),
            Criterion.flag("liver.disease_free_interval_months", "disease-free interval < 12 mo",
                           _lt(disease_free_interval_months, 12)),
            Criterion.flag("liver.number_of_metastases", "more than one liver tumour",
                           _gt(number_of_metastases, 1)),
            Criterion.flag("labs.cea_ng_ml", "CEA > 200 ng/mL", _gt(cea_ng_ml, 200)),
            Criterion.flag("liver.largest_diameter_cm", "largest tumour > 5 cm",
                           _gt(largest_diameter_cm, 5)),
        ],
        evidence=cite("fong1999", "ahpba2025"),
        groups=((0, 2, "low"), (3, 5, "high")),
        outcome=lambda v: (f"5-year OS {FONG_5Y_OS_PERCENT[v]} %, median OS "
                           f"{FONG_MEDIAN_OS_MONTHS[v]} months (Fong 1999, score {v})"),
    )


# ---------------------------------------------------------------------------- Nordlinger

NORDLINGER_2Y_SURVIVAL = {"low": 79, "intermediate": 60, "high": 43}


def nordlinger_score(
    age_years: float | None,
    serosal_invasion: bool | None,
    node_positive: bool | None,
    disease_free_interval_months: float | None,
    number_of_metastases: int | None,
    largest_diameter_cm: float | None,
    margin_mm: float | None,
) -> ScoreResult:
    """Nordlinger 1996 score, original 7 factors, 0–7 (0–2 / 3–4 / 5–7)."""
    groups = ((0, 2, "low"), (3, 4, "intermediate"), (5, 7, "high"))
    return point_score(
        "nordlinger",
        [
            Criterion.flag("age_years", "age ≥ 60 years", _ge(age_years, 60)),
            Criterion.flag("primary.t_category|primary.serosal_invasion",
                           "serosal invasion of the primary", serosal_invasion),
            Criterion.flag("primary.node_positive", "node-positive primary", node_positive),
            Criterion.flag("liver.disease_free_interval_months", "disease-free interval < 24 mo",
                           _lt(disease_free_interval_months, 24)),
            Criterion.flag("liver.number_of_metastases", "≥ 4 liver metastases",
                           _ge(number_of_metastases, 4)),
            Criterion.flag("liver.largest_diameter_cm", "largest metastasis ≥ 5 cm",
                           _ge(largest_diameter_cm, 5)),
            Criterion.flag("liver.margin_mm", "resection margin < 1 cm", _lt(margin_mm, 10)),
        ],
        evidence=cite("nordlinger1996", "ahpba2025"),
        groups=groups,
        outcome=lambda v: (
            f"2-year survival {NORDLINGER_2Y_SURVIVAL[_group(groups, v, v) or 'low']} % "
            f"(Nordlinger 1996, {_group(groups, v, v)} risk)"
        ),
        note=("Original 7-factor score (one point per factor). AHPBA guideline 2025 describes "
              "CEA bands (5–30 = 1, > 30 = 2) without age or size; crlm follows the original. "
              "Cut-offs per the usual reading [common]."),
    )


# ---------------------------------------------------------------------------- TBS


def tumour_burden_score_value(largest_diameter_cm: float, number_of_metastases: int) -> float:
    """TBS = √(largest diameter² + number²) (Sasaki 2018)."""
    return math.hypot(largest_diameter_cm, number_of_metastases)


def tbs_zone(tbs: float) -> str:
    """Sasaki zones: low < 3, medium 3 to < 9, high ≥ 9."""
    if tbs < 3:
        return "low"
    return "medium" if tbs < 9 else "high"


TBS_ZONE_GAME_POINTS = {"low": 0, "medium": 1, "high": 2}


def _tbs_bounds(d: float | None, n: int | None) -> tuple[float, float]:
    """Lowest and highest TBS the unknown inputs allow (diameter ≤ 30 cm, 1–200 tumours)."""
    d_lo, d_hi = (d, d) if d is not None else (0.0, MAX_DIAMETER_CM)
    n_lo, n_hi = (n, n) if n is not None else (MIN_METASTASES_FOR_TBS, MAX_METASTASES)
    return math.hypot(d_lo, n_lo), math.hypot(d_hi, n_hi)


def tumour_burden_score(
    largest_diameter_cm: float | None, number_of_metastases: int | None
) -> ScoreResult:
    """Tumour burden score with its zone; unknown inputs give the range of possible TBS."""
    evidence = cite("sasaki2018")
    if largest_diameter_cm is not None and number_of_metastases is not None:
        tbs = tumour_burden_score_value(largest_diameter_cm, number_of_metastases)
        return ScoreResult(name="tumor_burden_score", value=round(tbs, 4),
                           risk_group=tbs_zone(tbs), evidence=evidence)
    lo, hi = _tbs_bounds(largest_diameter_cm, number_of_metastases)
    missing = [f for f, v in (("liver.largest_diameter_cm", largest_diameter_cm),
                              ("liver.number_of_metastases", number_of_metastases)) if v is None]
    zone = tbs_zone(lo) if tbs_zone(lo) == tbs_zone(hi) else None
    return ScoreResult(name="tumor_burden_score", value=None, risk_group=zone, missing=missing,
                       range=(round(lo, 4), round(hi, 4)), evidence=evidence)


# ---------------------------------------------------------------------------- GAME

#: Published 5-year OS (%) by GAME group (external validation, as seed 003 quotes it); the
#: medium group (2–3) has no published 5-year figure.
GAME_5Y_OS_PERCENT = {"low": 73.4, "high": 11.3}


def game_score(
    kras: Mutation | None,
    cea_ng_ml: float | None,
    node_positive: bool | None,
    largest_diameter_cm: float | None,
    number_of_metastases: int | None,
    extrahepatic_disease: bool | None,
) -> ScoreResult:
    """GAME score (Margonis 2018), 0–7: low 0–1, medium 2–3, high ≥ 4."""
    if largest_diameter_cm is not None and number_of_metastases is not None:
        zone = tbs_zone(tumour_burden_score_value(largest_diameter_cm, number_of_metastases))
        tbs = Criterion("liver.largest_diameter_cm|liver.number_of_metastases",
                        "TBS 3–<9 = 1, ≥ 9 = 2", TBS_ZONE_GAME_POINTS[zone], (0, 2))
    else:
        lo, hi = _tbs_bounds(largest_diameter_cm, number_of_metastases)
        p_lo, p_hi = TBS_ZONE_GAME_POINTS[tbs_zone(lo)], TBS_ZONE_GAME_POINTS[tbs_zone(hi)]
        missing = "|".join(f for f, v in (("liver.largest_diameter_cm", largest_diameter_cm),
                                          ("liver.number_of_metastases", number_of_metastases))
                           if v is None)
        tbs = Criterion(missing, "TBS 3–<9 = 1, ≥ 9 = 2", p_lo if p_lo == p_hi else None,
                        (p_lo, p_hi))
    return point_score(
        "game",
        [
            Criterion.flag("molecular.kras", "KRAS mutated", _mutated(kras)),
            Criterion.flag("labs.cea_ng_ml", "CEA ≥ 20 ng/mL", _ge(cea_ng_ml, 20)),
            Criterion.flag("primary.node_positive", "node-positive primary", node_positive),
            tbs,
            Criterion.flag("extrahepatic_disease", "extrahepatic disease", extrahepatic_disease,
                           weight=2),
        ],
        evidence=cite("margonis2018", "ahpba2025", "bolhuis2022"),
        groups=((0, 1, "low"), (2, 3, "medium"), (4, 7, "high")),
        outcome=lambda v: {
            "low": f"5-year OS {GAME_5Y_OS_PERCENT['low']} % (GAME 0–1, external validation); "
                   "median OS 68.1 months "
                   "(Dutch validation)",
            "medium": "median OS 46.7 months (GAME 2–3, Dutch validation)",
            "high": f"5-year OS {GAME_5Y_OS_PERCENT['high']} % (GAME ≥ 4, external validation); "
                    "median OS 32.4 months "
                    "(Dutch validation)",
        }[_group(((0, 1, "low"), (2, 3, "medium"), (4, 7, "high")), v, v) or "low"],
        note=("AHPBA guideline 2025 lists 'number of metastases (3–8, ≥ 9)'; the published score "
            "uses the "
              "tumour burden score zones, as implemented here."),
    )


# ---------------------------------------------------------------------------- m-CS


def modified_clinical_score(
    ras: Mutation | None, node_positive: bool | None, largest_diameter_cm: float | None
) -> ScoreResult:
    """m-CS (Brudvik 2019), 0–3: RAS mutated, node-positive primary, largest > 5 cm."""
    return point_score(
        "mcs",
        [
            Criterion.flag("molecular.kras|molecular.nras", "RAS mutated", _mutated(ras)),
            Criterion.flag("primary.node_positive", "node-positive primary", node_positive),
            Criterion.flag("liver.largest_diameter_cm", "largest metastasis > 5 cm",
                           _gt(largest_diameter_cm, 5)),
        ],
        evidence=cite("brudvik2019"),
        note="Total only: no published group labels are asserted [common].",
    )


# ---------------------------------------------------------------------------- contour model


class ContourTerm(BaseModel):
    """One term of the linear predictor: coef · transform(variable)."""

    model_config = ConfigDict(extra="forbid")

    variable: str = Field(pattern="^(largest_diameter_cm|number_of_metastases)$")
    transform: str = Field(pattern="^(linear|log|sqrt|rcs)$")
    knots: list[float] = Field(default_factory=list)
    coef: list[float]


class ContourStratum(BaseModel):
    model_config = ConfigDict(extra="forbid")

    baseline_survival_5y: float = Field(gt=0, lt=1)
    mean_linear_predictor: float = 0.0
    terms: list[ContourTerm]


class ContourModel(BaseModel):
    """A contour model file (JSON) fitted on a registry: S(5 y) = S0^exp(lp − mean lp) by RAS."""

    model_config = ConfigDict(extra="forbid")

    format: str = Field(pattern="^crlm-contour-model$")
    version: int = Field(ge=1, le=1)
    description: str = ""
    strata: dict[str, ContourStratum]  # keys "mutant" and "wildtype"


def rcs_basis(x: float, knots: Sequence[float]) -> list[float]:
    """Harrell's restricted cubic spline basis: x and k − 2 nonlinear terms."""
    k = list(knots)
    if len(k) < 3:
        raise ValueError("a restricted cubic spline needs at least 3 knots")
    t_last, t_prev = k[-1], k[-2]
    scale = (t_last - k[0]) ** 2

    def pos3(v: float) -> float:
        return max(v, 0.0) ** 3

    out = [x]
    for t in k[:-2]:
        out.append((pos3(x - t) - pos3(x - t_prev) * (t_last - t) / (t_last - t_prev)
                    + pos3(x - t_last) * (t_prev - t) / (t_last - t_prev)) / scale)
    return out


def _term_value(term: ContourTerm, x: float) -> float:
    if term.transform == "linear":
        basis = [x]
    elif term.transform == "log":
        basis = [math.log(x)]
    elif term.transform == "sqrt":
        basis = [math.sqrt(x)]
    else:
        basis = rcs_basis(x, term.knots)
    if len(basis) != len(term.coef):
        raise ValueError(f"{term.variable}: {len(term.coef)} coefficients for {len(basis)} terms")
    return sum(c * b for c, b in zip(term.coef, basis, strict=True))


def contour_five_year_survival(
    model: ContourModel | None,
    ras: Mutation | None,
    largest_diameter_cm: float | None,
    number_of_metastases: int | None,
) -> ScoreResult:
    """5-year OS from a registry-fitted contour model (method of Kawaguchi 2021)."""
    evidence = cite("kawaguchi2021_contour", "maki2023_locoregional")
    if model is None:
        return ScoreResult(name="contour_5y_os", value=None, missing=["contour model file"],
                           evidence=evidence,
                           note="Published coefficients are not available; fit a model on your "
                                "registry and set CRLM_CONTOUR_MODEL.")
    missing = [f for f, v in (("molecular.kras|molecular.nras", ras),
                              ("liver.largest_diameter_cm", largest_diameter_cm),
                              ("liver.number_of_metastases", number_of_metastases)) if v is None]
    if missing:
        return ScoreResult(name="contour_5y_os", value=None,
                           missing=sorted({m for f in missing for m in f.split("|")}),
                           evidence=evidence)
    stratum = model.strata.get(ras.value)  # type: ignore[union-attr]
    if stratum is None:
        return ScoreResult(name="contour_5y_os", value=None,
                           missing=[f"contour model stratum RAS {ras.value}"],  # type: ignore[union-attr]
                           evidence=evidence)
    values = {"largest_diameter_cm": float(largest_diameter_cm),  # type: ignore[arg-type]
              "number_of_metastases": float(number_of_metastases)}  # type: ignore[arg-type]
    lp = sum(_term_value(t, values[t.variable]) for t in stratum.terms)
    survival = stratum.baseline_survival_5y ** math.exp(lp - stratum.mean_linear_predictor)
    return ScoreResult(
        name="contour_5y_os", value=round(100 * survival, 2),
        expected_outcome=f"predicted 5-year OS {100 * survival:.1f} % (registry contour model, "
                         f"RAS {ras.value})",  # type: ignore[union-attr]
        evidence=evidence, note=model.description or None,
    )


# ---------------------------------------------------------------------------- molecular


GENE_EFFECT = {
    "kras": "worse", "nras": "worse", "tp53": "worse", "smad4": "worse", "fbxw7": "worse",
    "apc": "better",
}


class MolecularProfile(BaseModel):
    """Prognostic reading of each gene (Maki 2023b and AHPBA guideline 2025) and the RAS/TP53
    co-mutation flag."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    genes: dict[str, str]  # gene → "worse prognosis" / "better prognosis" / "no effect" / unknown
    ras_tp53_comutation: bool | None
    ras_without_tp53_smad4: bool | None
    missing: list[str]
    evidence: list[str]


def molecular_risk_profile(patient: Patient) -> MolecularProfile:
    """Per-gene prognostic reading; unknown genes are listed as missing, not assumed normal."""
    m = patient.molecular
    genes: dict[str, str] = {}
    missing: list[str] = []
    for gene, effect in GENE_EFFECT.items():
        status = _mutated(getattr(m, gene))
        if status is None:
            genes[gene] = "unknown"
            missing.append(f"molecular.{gene}")
        elif status:
            genes[gene] = f"altered: {effect} prognosis"
        else:
            genes[gene] = "wild type"
    braf = m.braf
    if braf is None or braf == BrafStatus.unknown:
        genes["braf"] = "unknown"
        missing.append("molecular.braf")
    else:
        genes["braf"] = {
            BrafStatus.v600e: "V600E: worse prognosis",
            BrafStatus.non_v600e: "non-V600E: not the adverse V600E phenotype",
            BrafStatus.wildtype: "wild type",
        }[braf]
    ras, tp53, smad4 = _mutated(m.ras), _mutated(m.tp53), _mutated(m.smad4)
    comutation = None if ras is None or tp53 is None else (ras and tp53)
    if ras is True and tp53 is False and smad4 is False:
        alone: bool | None = True
    elif ras is False or tp53 is True or smad4 is True:
        alone = False
    else:
        alone = None
    return MolecularProfile(
        genes=genes, ras_tp53_comutation=comutation, ras_without_tp53_smad4=alone,
        missing=missing,
        evidence=cite("maki2023_locoregional", "ahpba2025", "maki2023_sequencing", "lillemoe2020"),
    )


def pathway_grade(patient: Patient) -> ScoreResult:
    """Kawaguchi pathway genes shown by status; no grade until its definition is sourced."""
    m = patient.molecular
    status = {g: (getattr(m, g).value if getattr(m, g) else "unknown")
              for g in ("tp53", "kras", "nras", "braf", "smad4", "apc")}
    return ScoreResult(
        name="pathway_grade", value=None, missing=["verified grade definition"],
        evidence=cite("kawaguchi2021_pathway"), details=status,
        note="Pathway-centric 3-grade classification (5-y OS 76.9/58.7/39.5 %) exists but its "
             "grade boundaries could not be verified; gene status shown instead.",
    )


# ---------------------------------------------------------------------------- patient → scores


def serosal_invasion(patient: Patient) -> bool | None:
    """T4 (a/b) or an explicit serosal-invasion flag; None when neither is known."""
    p = patient.primary
    if p.serosal_invasion is not None:
        return p.serosal_invasion or (p.t_category or "").startswith("T4")
    if p.t_category is None or p.t_category == "Tx":
        return None
    return p.t_category.startswith("T4")


def disease_free_interval_months(patient: Patient) -> float | None:
    """DFI from the liver data; synchronous metastases count as 0 months."""
    liver = patient.liver
    if liver.disease_free_interval_months is not None:
        return liver.disease_free_interval_months
    return 0.0 if liver.timing == Timing.synchronous else None


def all_scores(
    patient: Patient, contour_model: ContourModel | None = None
) -> dict[str, ScoreResult]:
    """Every published score for one patient, keyed by the contract's score names."""
    n_plus = patient.primary.is_node_positive
    dfi = disease_free_interval_months(patient)
    n = patient.liver.number_of_metastases
    d = patient.liver.largest_cm
    cea = patient.labs.cea_ng_ml
    ras = patient.molecular.ras
    results = [
        fong_clinical_risk_score(n_plus, dfi, n, cea, d),
        nordlinger_score(patient.age_years, serosal_invasion(patient), n_plus, dfi, n, d,
                         patient.liver.margin_mm),
        tumour_burden_score(d, n),
        game_score(patient.molecular.kras, cea, n_plus, d, n, patient.extrahepatic_disease),
        modified_clinical_score(ras, n_plus, d),
        contour_five_year_survival(contour_model, ras, d, n),
        pathway_grade(patient),
    ]
    return {r.name: r for r in results}
