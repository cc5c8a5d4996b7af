"""Resection strategy: upfront vs preoperative chemotherapy, chemotherapy-associated liver injury,
staged vs simultaneous, technique (parenchymal sparing, fiducials, two-stage, completion
ablation), future liver remnant, > 10 nodules, repeat hepatectomy (Maki 2023b, AHPBA guideline
2025 and Shimizu 2024)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from crlm.clinical.phase import BEFORE_LIVER_TREATMENT, Phase
from crlm.clinical.rules._facts import (
    fmt,
    hepatectomy_text,
    primary_in_place,
    rectal_complexity,
)
from crlm.clinical.rules.base import Findings, Strength
from crlm.clinical.rules.registry import Item, rule
from crlm.clinical.rules.sequencing import sequencing_decision
from crlm.clinical.vocabulary import value_label
from crlm.domain import Patient
from crlm.domain.patient import (
    PrimaryProcedure,
    PrimarySite,
    Resectability,
    Response,
    Timing,
)
from crlm.domain.treatment import TreatmentKind

TOPIC = "resection"

#: Fong clinical risk score groups: 0–2 low, 3–5 high (Fong 1999; CLINICAL_SPEC §1).
FONG_HIGH_RISK_FROM = 3
#: Extensive chemotherapy: > 12 weeks (Shindoh 2013; CLINICAL_SPEC §2).
EXTENSIVE_CHEMO_ABOVE_WEEKS = 12.0
#: MD Anderson limits preoperative chemotherapy to six cycles in most patients (Maki 2023b).
USUAL_MAX_PREOPERATIVE_CYCLES = 6
#: Mise 2016 (Maki 2023b): parenchymal-sparing hepatectomy for solitary CLM < 30 mm.
PARENCHYMAL_SPARING_BELOW_CM = 3.0
#: Maki 2023b: fiducial markers for CLM < 2 cm not on the liver surface, before chemotherapy.
FIDUCIAL_BELOW_CM = 2.0
#: Shimizu 2024: > 10 liver nodules, HR 4.284 (1.224–14.99) for OS after two-stage hepatectomy.
MAX_NODULES = 10
#: Kinetic growth rate thresholds after PVE (%/week): Shindoh 2013 and Leung 2014 (AHPBA guideline
#: 2025).
KGR_SHINDOH = 2.0
KGR_LEUNG = 2.66

#: Colon resections counted as "minor colon resections" (AHPBA guideline 2025) — segmental
#: colectomies.
MINOR_COLON_PROCEDURES = frozenset(
    {
        PrimaryProcedure.colectomy,
        PrimaryProcedure.right_colectomy,
        PrimaryProcedure.left_colectomy,
        PrimaryProcedure.sigmoid_colectomy,
        PrimaryProcedure.transverse_colectomy,
    }
)


@dataclass(frozen=True)
class PreoperativeChemotherapy:
    """Whether preoperative chemotherapy is indicated before hepatectomy, and why."""

    indicated: bool | None
    reasons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _fong_high_risk(findings: Findings) -> tuple[bool | None, str]:
    """Fong CRS high risk (3–5) from the value, or from its range when inputs are missing."""
    fong = findings.scores.get("fong_crs") or {}
    value = fong.get("value")
    if value is not None:
        group = "high" if value >= FONG_HIGH_RISK_FROM else "low"
        return value >= FONG_HIGH_RISK_FROM, f"Fong clinical risk score {value} ({group} risk)"
    rng = fong.get("range")
    if rng is not None:
        lo, hi = rng
        if lo >= FONG_HIGH_RISK_FROM:
            return True, f"Fong clinical risk score at least {lo} (high risk whatever is missing)"
        if hi < FONG_HIGH_RISK_FROM:
            return False, f"Fong clinical risk score at most {hi} (low risk whatever is missing)"
        return None, f"Fong clinical risk score between {lo} and {hi} (inputs missing)"
    return None, "Fong clinical risk score not computed"


def preoperative_chemotherapy(patient: Patient, findings: Findings) -> PreoperativeChemotherapy:
    """AHPBA guideline 2025: upfront surgery for resectable disease; preoperative chemotherapy
    when not
    resectable at diagnosis (borderline) or with high-risk features (Fong CRS 3–5)."""
    r = patient.liver.resectability
    if r is None:
        return PreoperativeChemotherapy(None, missing=["liver.resectability"])
    if r == Resectability.unresectable:
        return PreoperativeChemotherapy(None, reasons=["unresectable (see conversion therapy)"])
    if r == Resectability.borderline:
        return PreoperativeChemotherapy(True, reasons=["borderline resectable"])
    high, text = _fong_high_risk(findings)
    if high is None:
        fong = findings.scores.get("fong_crs") or {}
        missing = [f"fong_crs input: {m}" for m in fong.get("missing", [])] or ["fong_crs"]
        return PreoperativeChemotherapy(None, reasons=[f"resectable; {text}"], missing=missing)
    return PreoperativeChemotherapy(high, reasons=[f"resectable; {text}"])


@rule(
    topic=TOPIC,
    codes=[
        "resection.upfront_surgery",
        "resection.preoperative_chemotherapy",
        "resection.chemotherapy_timing_undetermined",
        "resection.upfront_vs_reverse_disagreement",
    ],
    trigger=(
        "work-up: resectable with Fong CRS 0–2 → upfront surgery; borderline, or resectable "
        "with Fong CRS 3–5 → preoperative chemotherapy; a synchronous rectal primary for which "
        "Maki 2023a's reverse approach (chemotherapy first) applies while the guideline would "
        "operate upfront → the disagreement is stated; unknown resectability or CRS → what is "
        "missing"
    ),
    evidence=["ahpba2025", "nordlinger2013", "fong1999", "maki2023_sequencing"],
    phases=(Phase.workup,),
    excludes={
        "resection.upfront_surgery": [
            "resection.preoperative_chemotherapy", "resection.chemotherapy_timing_undetermined",
            "resection.upfront_vs_reverse_disagreement", "sequencing.reverse",
            "resection.fiducial_marker"],
        "resection.preoperative_chemotherapy": [
            "resection.upfront_surgery", "resection.chemotherapy_timing_undetermined",
            "resection.upfront_vs_reverse_disagreement"],
        "resection.chemotherapy_timing_undetermined": [
            "resection.upfront_surgery", "resection.preoperative_chemotherapy",
            "resection.upfront_vs_reverse_disagreement"],
        "resection.upfront_vs_reverse_disagreement": [
            "resection.upfront_surgery", "resection.preoperative_chemotherapy",
            "resection.chemotherapy_timing_undetermined"],
    },
)
def upfront_or_preoperative(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Upfront surgery vs preoperative chemotherapy (AHPBA guideline 2025), at work-up only."""
    if patient.liver.resectability == Resectability.unresectable:
        return
    d = preoperative_chemotherapy(patient, findings)
    why = "; ".join(d.reasons)
    if d.indicated is None:
        yield Item(
            code="resection.chemotherapy_timing_undetermined",
            recommendation=(
                "Cannot decide between upfront surgery and preoperative chemotherapy: needs "
                + ", ".join(d.missing) + "."
            ),
            rationale=(why + ". " if why else "")
            + "AHPBA guideline 2025: upfront surgery for resectable disease, preoperative "
            "chemotherapy when not resectable at diagnosis or with high-risk features.",
            strength=Strength.information,
            kind="information",
            evidence=("ahpba2025", "fong1999"),
            details={"missing": d.missing},
        )
        return
    if d.indicated:
        yield Item(
            code="resection.preoperative_chemotherapy",
            recommendation="Give preoperative chemotherapy before hepatectomy.",
            rationale=(
                f"{why} → preoperative chemotherapy may help (downstaging, selection by "
                "response); a liver surgeon should assess before chemotherapy starts "
                "(AHPBA guideline 2025)."
            ),
            strength=Strength.moderate,
            evidence=("ahpba2025", "fong1999"),
        )
        return
    if sequencing_decision(patient, findings) == "reverse":
        yield Item(
            code="resection.upfront_vs_reverse_disagreement",
            recommendation=(
                "Sources disagree: the guideline would operate upfront, Maki 2023a starts the "
                "reverse approach with chemotherapy. The MDT chooses."
            ),
            rationale=(
                f"{why}. AHPBA guideline 2025: upfront surgery for resectable low-risk disease "
                "(perioperative chemotherapy gave no overall survival benefit in EORTC 40983). "
                "Maki 2023a: for a synchronous rectal primary that cannot be combined with the "
                "hepatectomy, the reverse approach begins with chemotherapy (median survival "
                "4.9 years, similar to the other approaches)."
            ),
            strength=Strength.information,
            kind="disagreement",
            evidence=("ahpba2025", "nordlinger2013", "maki2023_sequencing"),
            details={"options": [
                {"source": "ahpba2025", "option": "upfront hepatectomy"},
                {"source": "maki2023_sequencing", "option": "reverse approach, chemotherapy "
                 "first"},
            ]},
        )
        return
    yield Item(
        code="resection.upfront_surgery",
        recommendation="Proceed to hepatectomy without preoperative chemotherapy.",
        rationale=(
            f"{why} → upfront surgery: perioperative chemotherapy showed no overall survival "
            "benefit in resectable disease (EORTC 40983, median follow-up 8.5 years; "
            "AHPBA guideline 2025)."
        ),
        strength=Strength.moderate,
        evidence=("ahpba2025", "nordlinger2013", "fong1999"),
    )


#: What is said on progression, one code each: resectable, not resectable, not known.
_PROGRESSION_CODES = ("resection.hepatectomy_despite_progression",
                      "resection.progression_on_chemotherapy",
                      "resection.progression_undetermined")
#: Advice that assumes the regimen worked: never beside progression.
_NOT_WITH_PROGRESSION = ("resection.proceed_to_hepatectomy",
                         "resection.restage_after_chemotherapy",
                         "systemic.bevacizumab_first_choice",
                         "unresectable.conversion_chemotherapy")


def _given_text(findings: Findings, therapy: str = "preoperative chemotherapy") -> str:
    """``preoperative chemotherapy given (6 cycles, 12 weeks); last dose 2025-03-01``."""
    exposure = findings.timeline.preoperative
    given = []
    if exposure.cycles:
        given.append(f"{exposure.cycles} cycles")
    if exposure.weeks:
        given.append(f"{exposure.weeks:.0f} weeks")
    text = f"{therapy} given" + (f" ({', '.join(given)})" if given else "")
    return text + (f"; last dose {exposure.last_dose.isoformat()}" if exposure.last_dose else "")


@rule(
    topic=TOPIC,
    codes=[
        "resection.proceed_to_hepatectomy",
        "resection.restage_after_chemotherapy",
    ],
    trigger=(
        "on or after preoperative (or conversion) chemotherapy, liver not judged unresectable: "
        "resectable and response known and not progression → hepatectomy 5–6 weeks after the "
        "last dose; response not recorded, or after conversion therapy resectability not "
        "yet re-judged → restage first (progression: see the next rule)"
    ),
    evidence=["maki2023_locoregional", "ahpba2025"],
    phases=(Phase.preoperative_therapy, Phase.conversion),
    excludes={
        "resection.proceed_to_hepatectomy": ["resection.restage_after_chemotherapy",
                                             *_PROGRESSION_CODES],
        "resection.restage_after_chemotherapy": ["resection.proceed_to_hepatectomy",
                                                 *_PROGRESSION_CODES],
    },
)
def after_preoperative_chemotherapy(patient: Patient, findings: Findings) -> Iterator[Item]:
    """What follows preoperative chemotherapy: restage, then hepatectomy after the wash-out."""
    exposure = findings.timeline.preoperative
    resectability = patient.liver.resectability
    if not exposure.given or resectability == Resectability.unresectable:
        return  # unresectable: the conversion rules speak
    response = exposure.response
    if response == Response.PD:
        return  # progression: progression_on_systemic_therapy speaks
    given_text = _given_text(findings)
    if response is None:
        yield Item(
            code="resection.restage_after_chemotherapy",
            recommendation="Restage the liver (MRI with hepatobiliary contrast) and chest/abdomen "
            "(CT) to judge the response before setting the date of hepatectomy.",
            rationale=f"{given_text}; response not recorded.",
            strength=Strength.moderate,
            details={"missing": ["chemotherapy.response"]},
        )
        return
    if findings.phase == Phase.conversion and resectability != Resectability.resectable:
        judged = value_label(resectability) if resectability else "not recorded"
        yield Item(
            code="resection.restage_after_chemotherapy",
            recommendation="Restage and let a liver surgeon judge whether the disease has become "
            "resectable; if so, hepatectomy 5–6 weeks after the last dose.",
            rationale=(f"{given_text}; RECIST {value_label(response)} after conversion "
                       f"therapy; resectability {judged} → surgeons should stay involved to "
                       "resect once the disease is downstaged (AHPBA guideline 2025)."),
            strength=Strength.moderate,
            details={"missing": ["liver.resectability"]} if resectability is None else {},
        )
        return
    yield Item(
        code="resection.proceed_to_hepatectomy",
        recommendation="Proceed to hepatectomy 5–6 weeks after the last chemotherapy dose; do "
        "not prolong chemotherapy.",
        rationale=(f"{given_text}; RECIST {value_label(response)} → MD Anderson gives "
                   "FOLFOX + bevacizumab for 8–12 weeks and operates 5–6 weeks later "
                   "(Maki 2023b)."),
        strength=Strength.moderate,
        details={"weeks_after_last_dose": [5, 6]},
    )


@rule(
    topic=TOPIC,
    codes=["resection.hepatectomy_despite_progression", "resection.progression_on_chemotherapy",
           "resection.progression_undetermined"],
    trigger=(
        "RECIST progressive disease on preoperative or conversion systemic therapy: still "
        "resectable → hepatectomy rather than chemotherapy alone (Shimizu 2024); borderline or "
        "unresectable → change to second-line systemic therapy and restage; resectability not "
        "recorded → what is missing"
    ),
    evidence=["shimizu2024", "ahpba2025"],
    phases=(Phase.preoperative_therapy, Phase.conversion),
    excludes={code: [other for other in (*_PROGRESSION_CODES, *_NOT_WITH_PROGRESSION)
                     if other != code] for code in _PROGRESSION_CODES},
)
def progression_on_systemic_therapy(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Progression on systemic therapy: resect if still resectable, otherwise change therapy."""
    exposure = findings.timeline.preoperative
    if not exposure.given or exposure.response != Response.PD:
        return
    given_text = _given_text(findings, "systemic therapy")
    resectable_facts = ("for resectable progression during preoperative chemotherapy, "
                        "3-year survival was 49.3 % with hepatectomy vs 10.6 % with "
                        "chemotherapy alone (Shimizu 2024)")
    resectability = patient.liver.resectability
    if resectability == Resectability.resectable:
        yield Item(
            code="resection.hepatectomy_despite_progression",
            recommendation="Progression on chemotherapy, but still resectable: proceed to "
            "hepatectomy rather than continue chemotherapy alone.",
            rationale=f"{given_text}; RECIST progressive disease; still resectable → "
            f"{resectable_facts}.",
            strength=Strength.weak,
            evidence=("shimizu2024",),
        )
    elif resectability is None:
        yield Item(
            code="resection.progression_undetermined",
            recommendation="Progression on systemic therapy: hepatectomy if the disease is "
            "still resectable, otherwise second-line systemic therapy — needs "
            "liver.resectability.",
            rationale=f"{given_text}; RECIST progressive disease; resectability not recorded; "
            f"{resectable_facts}.",
            strength=Strength.information,
            kind="information",
            evidence=("shimizu2024",),
            details={"missing": ["liver.resectability"]},
        )
    else:
        yield Item(
            code="resection.progression_on_chemotherapy",
            recommendation="Progression on systemic therapy: change to a second-line regimen "
            "and restage, with a liver surgeon reassessing resectability; no hepatectomy while "
            "the disease progresses.",
            rationale=(f"{given_text}; RECIST progressive disease; liver metastases "
                       f"{value_label(resectability)} → the first-line regimen has failed; "
                       "surgeons should stay involved to resect if second-line therapy "
                       "downstages the disease (AHPBA guideline 2025); "
                       f"{resectable_facts}."),
            strength=Strength.moderate,
            evidence=("ahpba2025", "shimizu2024"),
        )


@rule(
    topic=TOPIC,
    codes=["warning.cali_long_chemotherapy"],
    trigger=(
        f"more than {fmt(EXTENSIVE_CHEMO_ABOVE_WEEKS)} weeks of preoperative chemotherapy (the "
        "timeline's one reading of weeks: recorded duration, dates, or cycles × the regimen's "
        "cycle length)"
    ),
    evidence=["ahpba2025", "maki2023_locoregional", "kishi2010", "shindoh2013_chemo"],
    phases=(Phase.preoperative_therapy, Phase.conversion, Phase.after_pve, Phase.between_stages),
)
def cali_long_chemotherapy(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Long preoperative chemotherapy: chemotherapy-associated liver injury (CALI)."""
    exposure = findings.timeline.preoperative
    weeks = exposure.weeks
    if weeks is None or weeks <= EXTENSIVE_CHEMO_ABOVE_WEEKS:
        return
    basis = f" ({exposure.weeks_basis})" if exposure.weeks_basis else ""
    why = f"{weeks:.0f} weeks of chemotherapy{basis}, more than {fmt(EXTENSIVE_CHEMO_ABOVE_WEEKS)}"
    threshold = findings.flr_threshold_percent
    yield Item(
        code="warning.cali_long_chemotherapy",
        recommendation=(
            "Long preoperative chemotherapy: assess chemotherapy-associated liver injury (MRI) "
            f"and require a future liver remnant of at least {fmt(threshold or 30)} %."
        ),
        rationale=(
            f"{why} → risk of chemotherapy-associated liver injury; extended chemotherapy "
            "does not improve pathologic response and increases postoperative liver "
            "insufficiency (Kishi 2010), and the safe sFLR rises to 30 % (Shindoh 2013b)."
        ),
        strength=Strength.moderate,
        kind="warning",
        details={"duration_weeks": weeks, "cycles": exposure.cycles,
                 "flr_threshold_percent": threshold or 30},
    )


def _colorectal_class(patient: Patient) -> tuple[str | None, str]:
    """The colorectal resection as ``complex`` (complex rectal), ``minor`` (non-complex rectal
    or segmental colectomy) or ``other`` (e.g. total colectomy), and why; ``None`` = unknown."""
    site = patient.primary.site
    if site is None:
        return None, "primary site unknown (needs primary.site)"
    if site == PrimarySite.rectum:
        rc = rectal_complexity(patient)
        return (None if rc.complex is None else "complex" if rc.complex else "minor"), rc.reason
    proc = patient.primary.planned_procedure
    if proc is None:
        return None, (f"{site.value} primary, colon resection not given (needs "
                      "primary.planned_procedure)")
    if proc in MINOR_COLON_PROCEDURES:
        return "minor", f"{proc.value} planned → minor colon resection"
    return "other", f"{proc.value} planned → not a minor colon resection"


@rule(
    topic=TOPIC,
    codes=[
        "resection.staged",
        "resection.simultaneous_reasonable",
        "resection.staging_individualised",
        "resection.staging_undetermined",
    ],
    trigger=(
        "synchronous metastases with the primary in place: major hepatectomy + complex "
        "colorectal resection → staged; minor hepatectomy + minor colorectal resection → "
        "simultaneous reasonable; mixed → individualise; unknown → what is missing"
    ),
    evidence=["ahpba2025", "maki2023_sequencing", "shubert2015", "strasberg2000"],
    phases=(Phase.workup, Phase.preoperative_therapy),
    excludes={
        "resection.staged": ["resection.simultaneous_reasonable",
                             "resection.staging_individualised",
                             "resection.staging_undetermined", "sequencing.combined"],
        "resection.simultaneous_reasonable": ["resection.staged",
                                              "resection.staging_individualised",
                                              "resection.staging_undetermined",
                                              "sequencing.reverse"],
        "resection.staging_individualised": ["resection.staged",
                                             "resection.simultaneous_reasonable",
                                             "resection.staging_undetermined"],
        "resection.staging_undetermined": ["resection.staged", "resection.simultaneous_reasonable",
                                           "resection.staging_individualised"],
    },
)
def staged_or_simultaneous(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Staged vs simultaneous resection of a colon primary (AHPBA guideline 2025: major
    hepatectomy and colorectal complexity). A rectal primary is decided by the sequencing rule
    (Maki 2023a: hepatectomy complexity grade), so the two definitions never meet."""
    in_place = primary_in_place(patient, findings)
    if patient.liver.timing != Timing.synchronous or in_place is not True:
        return
    if patient.primary.site in (PrimarySite.rectum, None):
        return
    major = findings.major_hepatectomy
    cr_class, cr_text = _colorectal_class(patient)
    if major is None:
        liver_text = "hepatectomy extent unknown (needs liver.planned_procedures)"
    else:
        liver_text = ("major" if major else "minor") + " hepatectomy (" + ", ".join(
            p.value for p in patient.liver.planned_procedures or []) + ")"
    rationale = f"{liver_text}; {cr_text}"
    if major is True and cr_class == "complex":
        yield Item(
            code="resection.staged",
            recommendation="Stage the resections: do not combine this hepatectomy with the "
            "colorectal resection.",
            rationale=rationale + " → major hepatectomy with a complex colorectal resection is "
            "the most compelling case for staged resection (AHPBA guideline 2025).",
            strength=Strength.moderate,
        )
    elif major is False and cr_class == "minor":
        yield Item(
            code="resection.simultaneous_reasonable",
            recommendation="Simultaneous resection of primary and liver metastases is "
            "reasonable.",
            rationale=rationale + " → minor + minor: simultaneous resection reasonable in "
            "experienced centres (AHPBA guideline 2025).",
            strength=Strength.weak,
            evidence=("ahpba2025", "strasberg2000"),
        )
    elif major is None or cr_class is None:
        missing = []  # a colon primary here: the rectal one is the sequencing rule's
        if major is None:
            missing.append("liver.planned_procedures")
        if cr_class is None:
            missing.append("primary.planned_procedure")
        yield Item(
            code="resection.staging_undetermined",
            recommendation="Cannot weigh staged vs simultaneous resection: needs "
            + " and ".join(missing) + ".",
            rationale=rationale + ".",
            strength=Strength.information,
            kind="information",
            evidence=("ahpba2025",),
            details={"missing": missing},
        )
    else:
        yield Item(
            code="resection.staging_individualised",
            recommendation="Staged vs simultaneous resection: individualise to the centre's "
            "experience.",
            rationale=rationale + " → neither major + complex nor minor + minor; AHPBA "
            "guideline 2025 leaves this to the centre (evidence retrospective, selection-biased).",
            strength=Strength.weak,
            evidence=("ahpba2025",),
        )


@rule(
    topic=TOPIC,
    codes=["resection.parenchymal_sparing"],
    trigger=f"largest metastasis < {fmt(PARENCHYMAL_SPARING_BELOW_CM)} cm, not unresectable",
    evidence=["maki2023_locoregional", "mise2016"],
    phases=BEFORE_LIVER_TREATMENT,
)
def parenchymal_sparing(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Small metastases: parenchymal-sparing hepatectomy (and/or ablation) preserves salvage."""
    largest = patient.liver.largest_cm
    if largest is None or largest >= PARENCHYMAL_SPARING_BELOW_CM:
        return
    if patient.liver.resectability == Resectability.unresectable:
        return
    yield Item(
        code="resection.parenchymal_sparing",
        recommendation="Prefer parenchymal-sparing hepatectomy (and/or ablation) over "
        "anatomical major resection.",
        rationale=(
            f"largest metastasis {fmt(largest)} cm (< {fmt(PARENCHYMAL_SPARING_BELOW_CM)} cm) → "
            "parenchymal-sparing hepatectomy keeps recurrences resectable: repeat hepatectomy "
            "68 % vs 24 % and better survival for solitary CLM < 30 mm (Mise 2016, Maki 2023b)."
        ),
        strength=Strength.moderate,
    )


def chemotherapy_planned(patient: Patient, findings: Findings) -> bool | None:
    """Chemotherapy is the next step: preoperative chemotherapy indicated, the reverse approach,
    or conversion therapy; None when the timing decision is still open."""
    if patient.liver.resectability == Resectability.unresectable:
        return True
    if sequencing_decision(patient, findings) == "reverse":
        return True
    return preoperative_chemotherapy(patient, findings).indicated


@rule(
    topic=TOPIC,
    codes=["resection.fiducial_marker"],
    trigger=(
        f"work-up or conversion, chemotherapy about to start, and a deep (not on the liver "
        f"surface) lesion < {fmt(FIDUCIAL_BELOW_CM)} cm"
    ),
    evidence=["maki2023_locoregional", "passot2016_fiducial"],
    phases=(Phase.workup, Phase.conversion),
    excludes={"resection.fiducial_marker": ["resection.upfront_surgery"]},
)
def fiducial_marker(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Mark small deep lesions before chemotherapy makes them invisible."""
    if findings.timeline.preoperative.given:
        return
    planned = chemotherapy_planned(patient, findings)
    if planned is False:
        return
    small_deep = [
        les for les in patient.liver.lesions or []
        if les.deep is True and les.diameter_cm is not None and les.diameter_cm < FIDUCIAL_BELOW_CM
    ]
    if not small_deep:
        return
    described = ", ".join(
        f"{fmt(les.diameter_cm)} cm" + (f" in segment {les.segment}" if les.segment else "")
        for les in small_deep
        if les.diameter_cm is not None
    )
    condition = "" if planned else "If preoperative chemotherapy is chosen, p"
    yield Item(
        code="resection.fiducial_marker",
        recommendation=(condition or "P") + "lace fiducial markers in the small deep lesions "
        "before starting chemotherapy.",
        rationale=(
            f"deep lesion(s) {described} (< {fmt(FIDUCIAL_BELOW_CM)} cm), chemotherapy "
            + ("planned" if planned else "under discussion") + " → may disappear on imaging "
            "during chemotherapy; after fiducial placement all 41 CLM were resected or ablated "
            "although 46 % were no longer visible (Passot 2016, Maki 2023b)."
        ),
        strength=Strength.moderate,
        details={"lesions": len(small_deep), "conditional": not planned},
    )


@rule(
    topic=TOPIC,
    codes=["resection.two_stage", "resection.completion_ablation_option"],
    trigger=("bilobar and MDT-judged extensive liver disease (on conversion therapy, until the "
             "liver is judged resectable: as the strategy for when it is)"),
    evidence=["maki2023_locoregional", "nishioka2021_fasttrack", "okuno2021_completion",
              "shimizu2024"],
    phases=(Phase.workup, Phase.preoperative_therapy, Phase.conversion),
    compatible=[("resection.two_stage", "resection.completion_ablation_option")],
)
def two_stage(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Bilateral extensive disease: two-stage hepatectomy with PVE; completion ablation option.

    On conversion therapy, until a surgeon judges the liver resectable, both are the surgical
    strategy for when it becomes so — worded as such, beside "continue conversion therapy".
    """
    liver = patient.liver
    if liver.bilobar is not True or liver.extensive_disease is not True:
        return
    n = liver.metastasis_count
    burden = f"bilobar extensive disease ({n} metastases)" if n is not None else (
        "bilobar extensive disease")
    conditional = (findings.phase == Phase.conversion
                   and liver.resectability != Resectability.resectable)
    condition = "If conversion therapy makes the liver resectable, p" if conditional else "P"
    yield Item(
        code="resection.two_stage",
        recommendation=(
            condition + "lan a two-stage hepatectomy with portal vein embolization between the "
            "stages (fast-track where a hybrid room exists); ALPPS is not advised."
        ),
        rationale=(
            f"{burden} → two-stage hepatectomy: 5-y OS 45.5 % after completed TSH at MD "
            "Anderson; fast-track TSH allows the second stage within about 4 weeks (median "
            "interval 5.6 weeks, KGR 2.9 %/week, no 90-day deaths); ALPPS was not used in more "
            "than 3000 MDA hepatectomies because of its mortality (Maki 2023b). Japanese "
            "nationwide TSH with PVE: 0 % in-hospital mortality, 5-y OS 34.7 % (Shimizu 2024)."
        ),
        strength=Strength.moderate,
        evidence=("maki2023_locoregional", "nishioka2021_fasttrack", "shimizu2024"),
        details={"fast_track_second_stage_within_weeks": 4, "alpps_advised": False}
        | ({"conditional": True} if conditional else {}),
    )
    yield Item(
        code="resection.completion_ablation_option",
        recommendation=(
            "Alternative" + (" once resectable" if conditional else "") + ": planned "
            "incomplete resection with postoperative image-guided completion ablation of the "
            "intentionally untreated small lesions."
        ),
        rationale=(
            f"{burden} → completion ablation had lower 5-y local tumour progression than "
            "intraoperative ablation (31.7 % vs 62.4 %) with similar 5-y OS (53 % vs 42 %) "
            "(Okuno 2021, Maki 2023b)."
        ),
        strength=Strength.weak,
        kind="information",
        evidence=("maki2023_locoregional", "okuno2021_completion"),
    )


@rule(
    topic=TOPIC,
    codes=["warning.avoid_ablation_with_major_hepatectomy"],
    trigger="ablation planned together with a major hepatectomy",
    evidence=["maki2023_locoregional", "mizuno2018_tsh"],
    phases=BEFORE_LIVER_TREATMENT | {Phase.between_stages},
)
def ablation_with_major_hepatectomy(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Major hepatectomy + simultaneous ablation: worse than two-stage hepatectomy."""
    if patient.liver.planned_ablation is not True or findings.major_hepatectomy is not True:
        return
    yield Item(
        code="warning.avoid_ablation_with_major_hepatectomy",
        recommendation="Avoid simultaneous ablation with a major hepatectomy; consider "
        "two-stage hepatectomy instead.",
        rationale=(
            "ablation planned with a major hepatectomy "
            f"({hepatectomy_text(patient, findings.complexity_grade)}) → vs two-stage "
            "hepatectomy: 5-y OS 24 % vs 35 %, major morbidity 32 % vs 14 %, "
            "hepatic insufficiency 28 % vs 6 % (Mizuno 2018, Maki 2023b)."
        ),
        strength=Strength.moderate,
        kind="warning",
    )


FLR_THRESHOLDS_TEXT = ("thresholds 20 % normal liver, 30 % after more than 12 weeks of "
                      "chemotherapy or a chemotherapy-injured liver, 40 % cirrhosis; "
                      "AHPBA guideline 2025, Shindoh 2013b")


def _flr_numbers(findings: Findings) -> str:
    pct, thr = findings.flr_percent, findings.flr_threshold_percent
    if pct is not None and thr is not None:
        return f"standardized FLR {pct:.1f} % vs threshold {fmt(thr)} %"
    if pct is not None:
        return f"standardized FLR {pct:.1f} %, threshold undetermined"
    return "standardized FLR not computable"


@rule(
    topic=TOPIC,
    codes=["resection.pve_required", "resection.flr_adequate", "resection.flr_undetermined"],
    trigger=(
        "before any PVE: standardized FLR below the patient's one threshold → PVE; at or above "
        "→ adequate; major hepatectomy with FLR or threshold not determined → what is missing"
    ),
    evidence=["ahpba2025", "vauthey2002", "shindoh2013_chemo", "maki2023_locoregional"],
    phases=(Phase.workup, Phase.preoperative_therapy, Phase.conversion, Phase.between_stages),
    excludes={
        "resection.pve_required": ["resection.flr_adequate", "resection.flr_undetermined"],
        "resection.flr_adequate": ["resection.pve_required", "resection.flr_undetermined"],
        "resection.flr_undetermined": ["resection.pve_required", "resection.flr_adequate"],
    },
)
def future_liver_remnant(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Portal vein embolization when the standardized FLR is below its threshold (once)."""
    if findings.timeline.pve_done:
        return  # after PVE the question is its result (pve_result)
    ok = findings.flr_adequate
    numbers = _flr_numbers(findings)
    details = {"flr_percent": findings.flr_percent,
               "flr_threshold_percent": findings.flr_threshold_percent}
    if ok is False:
        yield Item(
            code="resection.pve_required",
            recommendation="Portal vein embolization before hepatectomy; repeat volumetry 3–4 "
            "weeks after.",
            rationale=f"{numbers} → future liver remnant too small; PVE to induce hypertrophy "
            f"({FLR_THRESHOLDS_TEXT}).",
            strength=Strength.strong,
            details=details,
        )
    elif ok is True:
        yield Item(
            code="resection.flr_adequate",
            recommendation="Future liver remnant adequate for the planned resection.",
            rationale=f"{numbers} → adequate (at or above the threshold; AHPBA guideline 2025).",
            strength=Strength.strong,
            details=details,
        )
    elif findings.major_hepatectomy is True:
        missing = list(findings.flr_threshold_missing) or ["volumetry.flr_volume_ml"]
        yield Item(
            code="resection.flr_undetermined",
            recommendation="Major hepatectomy planned but the future liver remnant cannot be "
            "judged yet: needs " + ", ".join(missing) + ".",
            rationale=f"major hepatectomy planned; {numbers} → volumetry and the liver's "
            "condition are needed before deciding on PVE (AHPBA guideline 2025).",
            strength=Strength.information,
            kind="information",
            evidence=("ahpba2025", "vauthey2002"),
            details={**details, "missing": missing},
        )


@rule(
    topic=TOPIC,
    codes=[
        "resection.flr_adequate_after_pve",
        "resection.flr_inadequate_after_pve",
        "resection.slow_growth_after_pve",
        "resection.pve_volumetry_pending",
    ],
    trigger=(
        "after PVE: FLR at or above the threshold with a kinetic growth rate not below "
        f"{fmt(KGR_LEUNG)} %/week → proceed; FLR below the threshold → reconsider the plan "
        "(never a second PVE); FLR adequate but growth slow → weigh the risk; volumetry after "
        "PVE not yet available → repeat volumetry 3–4 weeks after PVE"
    ),
    evidence=["ahpba2025", "shindoh2013", "leung2014", "maki2023_locoregional"],
    phases=(Phase.after_pve, Phase.between_stages),
    excludes={
        "resection.flr_adequate_after_pve": [
            "resection.flr_inadequate_after_pve", "resection.slow_growth_after_pve",
            "resection.pve_volumetry_pending", "warning.low_kinetic_growth_rate"],
        "resection.flr_inadequate_after_pve": [
            "resection.flr_adequate_after_pve", "resection.slow_growth_after_pve",
            "resection.pve_volumetry_pending"],
        "resection.slow_growth_after_pve": [
            "resection.flr_adequate_after_pve", "resection.flr_inadequate_after_pve",
            "resection.pve_volumetry_pending"],
        "resection.pve_volumetry_pending": [
            "resection.flr_adequate_after_pve", "resection.flr_inadequate_after_pve",
            "resection.slow_growth_after_pve"],
    },
)
def pve_result(patient: Patient, findings: Findings) -> Iterator[Item]:
    """After PVE the advice is about its result, never a second PVE."""
    if not findings.timeline.pve_done:
        return
    pve = findings.timeline.last(TreatmentKind.pve)
    when = f" on {pve.date.isoformat()}" if pve and pve.date else ""
    if patient.volumetry.flr_volume_after_pve_ml is None or findings.flr_adequate is None:
        missing = ["volumetry.flr_volume_after_pve_ml", "volumetry.weeks_after_pve"]
        if patient.volumetry.flr_volume_after_pve_ml is not None:
            missing = list(findings.flr_threshold_missing) or missing
        yield Item(
            code="resection.pve_volumetry_pending",
            recommendation="Repeat volumetry 3–4 weeks after portal vein embolization, then "
            "decide on hepatectomy.",
            rationale=f"portal vein embolization done{when}; the result cannot be judged yet "
            "(needs " + ", ".join(missing) + ").",
            strength=Strength.strong,
            evidence=("ahpba2025",),
            details={"missing": missing},
        )
        return
    numbers = _flr_numbers(findings)
    kgr = findings.kinetic_growth_rate_percent_per_week
    growth = f"; kinetic growth rate {kgr:.1f} %/week" if kgr is not None else ""
    details = {"flr_percent": findings.flr_percent,
               "flr_threshold_percent": findings.flr_threshold_percent, "kgr": kgr}
    if findings.flr_adequate is False:
        yield Item(
            code="resection.flr_inadequate_after_pve",
            recommendation="Future liver remnant still too small despite portal vein "
            "embolization: reconsider the plan (extent of resection, a staged or "
            "parenchymal-sparing strategy, or systemic therapy); do not repeat PVE.",
            rationale=f"after PVE{when}: {numbers}{growth} → insufficient hypertrophy "
            f"({FLR_THRESHOLDS_TEXT}).",
            strength=Strength.moderate,
            evidence=("ahpba2025", "shindoh2013", "maki2023_locoregional"),
            details=details,
        )
    elif kgr is not None and kgr < KGR_LEUNG:
        yield Item(
            code="resection.slow_growth_after_pve",
            recommendation="Future liver remnant large enough but slow to grow after PVE: "
            "weigh the risk of liver failure before proceeding.",
            rationale=f"after PVE{when}: {numbers}{growth}, below {fmt(KGR_LEUNG)} %/week "
            "(Leung 2014) → predicts post-hepatectomy liver failure despite an adequate "
            "volume.",
            strength=Strength.moderate,
            evidence=("ahpba2025", "shindoh2013", "leung2014"),
            details=details,
        )
    else:
        yield Item(
            code="resection.flr_adequate_after_pve",
            recommendation="Future liver remnant adequate after portal vein embolization: "
            "proceed to hepatectomy.",
            rationale=f"after PVE{when}: {numbers}{growth} → adequate.",
            strength=Strength.strong,
            evidence=("ahpba2025", "shindoh2013"),
            details=details,
        )


@rule(
    topic=TOPIC,
    codes=["warning.low_kinetic_growth_rate"],
    trigger=f"kinetic growth rate after PVE < {fmt(KGR_LEUNG)} %/week",
    evidence=["shindoh2013", "leung2014", "ahpba2025"],
    phases=(Phase.after_pve, Phase.between_stages),
    excludes={"warning.low_kinetic_growth_rate": ["resection.flr_adequate_after_pve"]},
)
def low_kinetic_growth_rate(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Slow FLR growth after PVE predicts liver failure; both published thresholds shown."""
    kgr = findings.kinetic_growth_rate_percent_per_week
    if kgr is None or kgr >= KGR_LEUNG:
        return
    below = [f"{fmt(KGR_LEUNG)} %/week (Leung 2014, quoted by AHPBA guideline 2025)"]
    if kgr < KGR_SHINDOH:
        below.insert(0, f"{fmt(KGR_SHINDOH)} %/week (Shindoh 2013a: hepatic insufficiency "
                        "21.6 % vs 0 %)")
    yield Item(
        code="warning.low_kinetic_growth_rate",
        recommendation="Low kinetic growth rate after PVE: high risk of post-hepatectomy liver "
        "failure; reconsider the extent or timing of resection.",
        rationale=f"kinetic growth rate {kgr:.1f} %/week, below " + " and ".join(below) + ".",
        strength=Strength.moderate,
        kind="warning",
        details={"kgr_percent_per_week": kgr, "thresholds": {"shindoh2013": KGR_SHINDOH,
                                                             "leung2014": KGR_LEUNG}},
    )


@rule(
    topic=TOPIC,
    codes=["warning.more_than_10_nodules"],
    trigger=f"more than {MAX_NODULES} liver nodules",
    evidence=["shimizu2024"],
    phases=BEFORE_LIVER_TREATMENT | {Phase.between_stages},
)
def more_than_10_nodules(patient: Patient, findings: Findings) -> Iterator[Item]:
    """> 10 nodules: poor survival after (two-stage) hepatectomy (Shimizu 2024)."""
    n = patient.liver.metastasis_count
    if n is None or n <= MAX_NODULES:
        return
    yield Item(
        code="warning.more_than_10_nodules",
        recommendation="More than 10 liver nodules: survival after (two-stage) hepatectomy is "
        "poor; weigh surgery against systemic therapy.",
        rationale=(
            f"{n} liver nodules (> {MAX_NODULES}) → HR 4.28 (95 % CI 1.22–14.99) for death "
            "after two-stage hepatectomy; 5-y OS 11.1 % vs 54.8 % with ≤ 10 nodules; not "
            "specific to two-stage (similar after one-stage) (Shimizu 2024)."
        ),
        strength=Strength.weak,
        kind="warning",
        details={"nodules": n, "hazard_ratio_os": 4.284, "os_5y_percent": {">10": 11.1,
                                                                          "<=10": 54.8}},
    )


@rule(
    topic=TOPIC,
    codes=["resection.repeat_hepatectomy", "resection.repeat_hepatectomy_undetermined"],
    trigger=(
        "intrahepatic progression after two-stage hepatectomy (the liver flags, or a second "
        "stage and a later liver recurrence in the timeline): resectable → repeat "
        "hepatectomy; resectability unknown → what is missing"
    ),
    evidence=["shimizu2024"],
    phases=(Phase.workup,),
    excludes={"resection.repeat_hepatectomy": ["resection.repeat_hepatectomy_undetermined"],
              "resection.repeat_hepatectomy_undetermined": ["resection.repeat_hepatectomy"]},
)
def repeat_hepatectomy(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Resectable intrahepatic progression after two-stage hepatectomy → repeat hepatectomy."""
    liver, timeline = patient.liver, findings.timeline
    two_stage = liver.prior_two_stage_hepatectomy is True or timeline.two_stage_completed
    progression = (liver.intrahepatic_progression is True
                   or timeline.liver_recurrence_after_resection)
    if not (two_stage and progression):
        return
    facts = ("mean survival from progression 49.6 months with repeat hepatectomy vs 18.7 "
             "months with chemotherapy (Shimizu 2024)")
    if liver.resectability == Resectability.resectable:
        yield Item(
            code="resection.repeat_hepatectomy",
            recommendation="Offer repeat hepatectomy for the intrahepatic progression.",
            rationale=f"resectable intrahepatic progression after two-stage hepatectomy → {facts}.",
            strength=Strength.weak,
        )
    elif liver.resectability is None:
        yield Item(
            code="resection.repeat_hepatectomy_undetermined",
            recommendation="Intrahepatic progression after two-stage hepatectomy: repeat "
            "hepatectomy if resectable — needs liver.resectability.",
            rationale=f"resectability of the progression not recorded; {facts}.",
            strength=Strength.information,
            kind="information",
            details={"missing": ["liver.resectability"]},
        )
