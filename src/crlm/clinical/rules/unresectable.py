"""Unresectable disease: conversion chemotherapy, hepatic arterial infusion, liver transplant
eligibility (AHPBA guideline 2025: SECA-I/II, TransMet)."""

from __future__ import annotations

from collections.abc import Iterator

from crlm.clinical.phase import Phase
from crlm.clinical.rules._facts import Criterion, add_months, criteria_with, criterion, fmt
from crlm.clinical.rules.base import Findings, Strength
from crlm.clinical.rules.registry import Item, rule
from crlm.clinical.timeline import SystemicExposure, build_timeline
from crlm.clinical.vocabulary import value_label
from crlm.domain import Patient
from crlm.domain.patient import BrafStatus, Resectability, Response
from crlm.domain.treatment import TreatmentKind

TOPIC = "unresectable"

#: SECA-II: at least 1 year between primary diagnosis and listing (AHPBA guideline 2025).
MIN_MONTHS_FROM_DIAGNOSIS = 12


def _unresectable(patient: Patient) -> bool:
    return patient.liver.resectability == Resectability.unresectable


@rule(
    topic=TOPIC,
    codes=["unresectable.conversion_chemotherapy"],
    trigger="liver metastases judged unresectable, not progressing on systemic therapy",
    evidence=["ahpba2025", "modest2019_volfi"],
    phases=(Phase.conversion,),
    excludes={"unresectable.conversion_chemotherapy": ["resection.hepatectomy_despite_progression",
                                                      "resection.progression_on_chemotherapy",
                                                      "resection.progression_undetermined"]},
)
def conversion_chemotherapy(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Unresectable → conversion systemic therapy with surgical reassessment."""
    exposure = findings.timeline.preoperative
    if not _unresectable(patient) or exposure.response == Response.PD:
        return  # progression: second-line therapy (resection.progression_on_chemotherapy)
    given = ""
    if exposure.given:
        response = f", {value_label(exposure.response)}" if exposure.response else ""
        given = f" (systemic therapy given so far{response})"
    yield Item(
        code="unresectable.conversion_chemotherapy",
        recommendation=("Continue conversion systemic therapy and restage" if exposure.given
                        else "Conversion systemic therapy")
        + ", with a liver surgeon reassessing resectability at each restaging" + given + ".",
        rationale="unresectable liver metastases → tumours can be downstaged to complete "
        "resection (e.g. conversion 33 % vs 12 % with FOLFOXIRI + panitumumab in RAS wild "
        "type, VOLFI); surgeons should stay involved (AHPBA guideline 2025).",
        strength=Strength.strong,
    )


@rule(
    topic=TOPIC,
    codes=["unresectable.hai_option", "unresectable.hai_undetermined"],
    trigger="unresectable and no extrahepatic disease → HAI option at experienced centres; "
    "extrahepatic status unknown → what is missing",
    evidence=["ahpba2025", "pak2018_hai", "groot_koerkamp2017_hai"],
    phases=(Phase.conversion,),
    excludes={"unresectable.hai_option": ["unresectable.hai_undetermined"],
              "unresectable.hai_undetermined": ["unresectable.hai_option"]},
)
def hai_option(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Hepatic arterial infusion pump for unresectable liver-only disease."""
    if not _unresectable(patient):
        return
    ehd = patient.extrahepatic_disease
    facts = ("phase II HAI + systemic therapy converted 52 % of unresectable liver-only disease "
             "to resection; pump placement morbidity 19 %, biliary sclerosis in up to a quarter; "
             "no benefit with extrahepatic disease (AHPBA guideline 2025)")
    if ehd is False:
        yield Item(
            code="unresectable.hai_option",
            recommendation="Hepatic arterial infusion pump chemotherapy is an option at an "
            "experienced high-volume centre.",
            rationale=f"unresectable, liver-only disease → {facts}.",
            strength=Strength.weak,
        )
    elif ehd is None:
        yield Item(
            code="unresectable.hai_undetermined",
            recommendation="HAI pump is an option only for liver-only disease: needs "
            "extrahepatic_disease.",
            rationale=f"extrahepatic disease status unknown; {facts}.",
            strength=Strength.information,
            kind="information",
            details={"missing": ["extrahepatic_disease"]},
        )


def transplant_criteria(patient: Patient, exposure: SystemicExposure | None = None,
                        primary_resected: bool = False) -> list[Criterion]:
    """Each transplant eligibility criterion (AHPBA guideline 2025, SECA-II/TransMet) as
    met/failed/unknown."""
    out: list[Criterion] = []
    if exposure is None:
        exposure = build_timeline(patient).preoperative

    def add(name: str, status: bool | None, value: str) -> None:
        out.append(criterion(name, status, value))

    ehd = patient.extrahepatic_disease
    add("no extrahepatic disease", None if ehd is None else not ehd,
        "unknown" if ehd is None else ("extrahepatic disease" if ehd else "liver-only"))

    diag, today = patient.primary.date_of_diagnosis, patient.assessment_date
    if diag is None or today is None:
        missing = [n for n, v in (("primary.date_of_diagnosis", diag),
                                  ("assessment_date", today)) if v is None]
        add("≥ 1 year from primary diagnosis", None, "needs " + " and ".join(missing))
    else:
        met = add_months(diag, MIN_MONTHS_FROM_DIAGNOSIS) <= today
        add("≥ 1 year from primary diagnosis", met, f"diagnosed {diag}, assessed {today}")

    add("response to systemic therapy", *_response_criterion(exposure))

    braf = patient.molecular.braf
    add("no BRAF V600E mutation", None if braf in (None, BrafStatus.unknown)
        else braf != BrafStatus.v600e, braf.value if braf is not None else "unknown")

    resected = True if primary_resected else patient.primary.resected
    add("primary resected", resected,
        "unknown" if resected is None else ("yes" if resected else "no"))
    return out


#: SECA-II: at least 10 % response to systemic therapy (AHPBA guideline 2025).
SECA2_MIN_RESPONSE_PERCENT = 10.0


def _response_criterion(exposure: SystemicExposure) -> tuple[bool | None, str]:
    """Response to systemic therapy: progression fails; a partial or complete response, or a
    decrease of at least 10 % (SECA-II), meets it; stable disease is not an exclusion by itself
    (Hernandez-Alejandro 2022 selected patients with stable disease) — its % change is asked."""
    resp, change = exposure.response, exposure.tumour_size_change_percent
    if resp == Response.PD:
        return False, "progressive disease"
    if resp in (Response.CR, Response.PR):
        return True, "complete response" if resp == Response.CR else "partial response"
    if change is not None and change <= -SECA2_MIN_RESPONSE_PERCENT:
        return True, f"{change:.0f} % change in tumour size (SECA-II: at least 10 % response)"
    if resp == Response.SD:
        if change is None:
            return None, ("stable disease; needs the % change in tumour size "
                          "(SECA-II asks for at least a 10 % response)")
        return True, (f"stable disease ({change:+.0f} %): below SECA-II's 10 % response, but "
                      "stable disease was accepted by Hernandez-Alejandro 2022")
    return None, "response not recorded"


@rule(
    topic=TOPIC,
    codes=["transplant.consider_evaluation", "transplant.not_candidate",
           "transplant.eligibility_incomplete"],
    trigger=(
        "unresectable: no extrahepatic disease, ≥ 1 year from diagnosis, response to systemic "
        "therapy (partial/complete, or ≥ 10 % decrease as SECA-II; stable disease asks for the "
        "% change and is not an exclusion by itself), no BRAF V600E, primary resected → "
        "consider evaluation; any failed → not a candidate; otherwise incomplete"
    ),
    evidence=["ahpba2025", "hagness2013_seca1", "dueland2020_seca2", "hernandez_alejandro2022"],
    phases=(Phase.conversion,),
    excludes={
        "transplant.consider_evaluation": ["transplant.not_candidate",
                                           "transplant.eligibility_incomplete"],
        "transplant.not_candidate": ["transplant.consider_evaluation",
                                     "transplant.eligibility_incomplete"],
        "transplant.eligibility_incomplete": ["transplant.consider_evaluation",
                                              "transplant.not_candidate"],
    },
)
def transplant(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Liver transplant candidacy with each criterion met / failed / unknown."""
    if not _unresectable(patient):
        return
    criteria = transplant_criteria(patient, findings.timeline.preoperative,
                                   findings.timeline.primary_resected)
    details = {"criteria": criteria}

    def listed(status: str) -> str:
        return criteria_with(criteria, status)

    facts = ("SECA-II (stricter selection) 5-y OS 83 %; TransMet: 5-y OS 57 % with transplant + "
             "chemotherapy vs chemotherapy alone (HR 0.37) (AHPBA guideline 2025)")
    if any(c["status"] == "failed" for c in criteria):
        yield Item(
            code="transplant.not_candidate",
            recommendation="Not a liver transplant candidate on current criteria.",
            rationale=f"failed: {listed('failed')}. {facts}.",
            strength=Strength.moderate,
            details=details,
        )
    elif all(c["status"] == "met" for c in criteria):
        yield Item(
            code="transplant.consider_evaluation",
            recommendation="Consider referral for liver transplant evaluation (within a trial "
            "or an experienced programme).",
            rationale=f"met: {listed('met')}. {facts}.",
            strength=Strength.weak,
            details=details,
        )
    else:
        yield Item(
            code="transplant.eligibility_incomplete",
            recommendation="Transplant eligibility incomplete: needs " + listed("unknown") + ".",
            rationale=f"no criterion failed; met: {listed('met') or 'none'}. {facts}.",
            strength=Strength.information,
            kind="information",
            details={**details, "missing": [c["criterion"] for c in criteria
                                            if c["status"] == "unknown"]},
        )


def _primary_resection_interval(patient: Patient, findings: Findings) -> str:
    """Days from the latest primary resection on the timeline to the assessment, or what is
    missing, in words."""
    dates = [e.date for e in findings.timeline.of(TreatmentKind.primary_resection)
             if e.date is not None]
    if not dates:
        return "unknown (date of the primary resection not recorded)"
    if patient.assessment_date is None:
        return f"primary resected {max(dates)}; assessment date not recorded"
    return f"{(patient.assessment_date - max(dates)).days} days"


@rule(
    topic=TOPIC,
    codes=["transplant.oslo_score_components"],
    trigger="unresectable (information only: the Oslo score's cut-offs are not sourced)",
    evidence=["ahpba2025", "hagness2013_seca1"],
    phases=(Phase.conversion,),
)
def oslo_score_components(patient: Patient, findings: Findings) -> Iterator[Item]:
    """List the Oslo score components; no score is computed (definition not sourced)."""
    if not _unresectable(patient):
        return
    largest = patient.liver.largest_cm
    cea = patient.labs.cea_ng_ml
    resp = findings.timeline.preoperative.response
    components = [
        {"component": "tumour size (largest diameter)",
         "value": f"{fmt(largest)} cm" if largest is not None else "unknown"},
        {"component": "CEA level", "value": f"{fmt(cea)} ng/mL" if cea is not None else "unknown"},
        {"component": "interval from resection of the primary tumour",
         "value": _primary_resection_interval(patient, findings)},
        {"component": "response to chemotherapy",
         "value": value_label(resp) if resp is not None else "unknown"},
    ]
    listed = "; ".join(f"{c['component']} {c['value']}" for c in components)
    yield Item(
        code="transplant.oslo_score_components",
        recommendation="Oslo score not computed: its cut-offs are not in crlm's sources; its "
        "components are listed for the transplant team.",
        rationale=f"Components: {listed}. SECA-I identified tumour size, CEA level, "
        "disease-free interval from primary resection and response to chemotherapy as "
        "determinants of poor outcome (AHPBA guideline 2025); the score's exact thresholds "
        "were not verifiable (missing definition).",
        strength=Strength.information,
        kind="information",
        # a limit of crlm's sources, not data the MDT could add: context, not an open decision
        details={"components": components},
    )
