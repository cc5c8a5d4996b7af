"""Systemic therapy flags from molecular profile and setting (AHPBA guideline 2025; bevacizumab:
Maki 2023b)."""

from __future__ import annotations

from collections.abc import Iterator

from crlm.clinical.phase import Phase
from crlm.clinical.rules._facts import Criterion, criteria_with, criterion
from crlm.clinical.rules.base import Findings, Strength
from crlm.clinical.rules.registry import Item, rule
from crlm.clinical.rules.resection import preoperative_chemotherapy
from crlm.domain import Patient
from crlm.domain.patient import (
    BrafStatus,
    Her2Status,
    MsiStatus,
    Mutation,
    PrimarySite,
    Resectability,
    Response,
)

TOPIC = "systemic"

LEFT_SIDED_SITES = frozenset({PrimarySite.rectum, PrimarySite.left_colon})

def _wildtype(value: Mutation | None) -> bool | None:
    if value is None or value == Mutation.unknown:
        return None
    return value == Mutation.wildtype


def anti_egfr_criteria(patient: Patient) -> list[Criterion]:
    """Each anti-EGFR eligibility criterion of AHPBA guideline 2025 with met / failed / unknown."""
    m, site, res = patient.molecular, patient.primary.site, patient.liver.resectability
    braf_ok = None if m.braf in (None, BrafStatus.unknown) else m.braf != BrafStatus.v600e
    left = None if site is None else site in LEFT_SIDED_SITES
    unresectable = None if res is None else res == Resectability.unresectable
    return [
        criterion("KRAS wild type", _wildtype(m.kras), m.kras.value if m.kras else "unknown"),
        criterion("NRAS wild type", _wildtype(m.nras), m.nras.value if m.nras else "unknown"),
        criterion("BRAF V600E not present", braf_ok, m.braf.value if m.braf else "unknown"),
        criterion("HER2 not amplified (HER2 amplification causes anti-EGFR resistance)",
                  None if m.her2 in (None, Her2Status.unknown) else m.her2 != Her2Status.amplified,
                  m.her2.value.replace("_", " ") if m.her2 else "unknown"),
        criterion("left-sided primary (rectum, left colon)", left,
                   site.value if site else "unknown"),
        criterion("unresectable setting (not routinely in resectable/borderline disease)",
                   unresectable, res.value if res else "unknown"),
    ]


@rule(
    topic=TOPIC,
    codes=[
        "systemic.anti_egfr_candidate",
        "systemic.anti_egfr_not_indicated",
        "systemic.anti_egfr_undetermined",
    ],
    trigger=(
        "KRAS, NRAS wild type, no BRAF V600E, left-sided primary and unresectable → candidate; "
        "any criterion failed → not indicated (New EPOC for resectable disease); otherwise "
        "what is missing"
    ),
    evidence=["ahpba2025", "bridgewater2020_new_epoc", "modest2019_volfi",
              "tejpar2017_sidedness", "pietrantonio2015_braf"],
    phases=(Phase.workup, Phase.preoperative_therapy, Phase.conversion),
    excludes={
        "systemic.anti_egfr_candidate": ["systemic.anti_egfr_not_indicated",
                                         "systemic.anti_egfr_undetermined"],
        "systemic.anti_egfr_not_indicated": ["systemic.anti_egfr_candidate",
                                             "systemic.anti_egfr_undetermined"],
        "systemic.anti_egfr_undetermined": ["systemic.anti_egfr_candidate",
                                            "systemic.anti_egfr_not_indicated"],
    },
)
def anti_egfr(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Anti-EGFR (cetuximab/panitumumab) eligibility, every criterion listed."""
    criteria = anti_egfr_criteria(patient)
    details = {"criteria": criteria}
    failed = [c for c in criteria if c["status"] == "failed"]
    if failed:
        yield Item(
            code="systemic.anti_egfr_not_indicated",
            recommendation="Do not add anti-EGFR therapy (cetuximab/panitumumab).",
            rationale=(
                "failed: " + criteria_with(criteria, "failed") + " → anti-EGFR ineffective or "
                "harmful here; in resectable/borderline KRAS wild-type disease New EPOC showed "
                "worse OS with cetuximab (median 55.4 vs 81.0 months, HR 1.45) (AHPBA guideline "
                "2025)."
            ),
            strength=Strength.strong,
            details=details,
        )
    elif all(c["status"] == "met" for c in criteria):
        yield Item(
            code="systemic.anti_egfr_candidate",
            recommendation=(
                "Anti-EGFR therapy is appropriate for this tumour (already part of the regimen)."
                if findings.timeline.preoperative.anti_egfr else
                "Candidate for anti-EGFR therapy added to first-line chemotherapy."),
            rationale=(
                "all criteria met (KRAS and NRAS wild type, no BRAF V600E, HER2 not amplified, "
                "left-sided primary, unresectable) → anti-EGFR improves response in "
                "unresectable RAS wild-type left-sided disease; conversion 33 % vs 12 % with "
                "panitumumab in VOLFI (AHPBA guideline 2025)."
            ),
            strength=Strength.strong,
            evidence=("ahpba2025", "modest2019_volfi", "tejpar2017_sidedness"),
            details=details,
        )
    else:
        unknown = criteria_with(criteria, "unknown")
        yield Item(
            code="systemic.anti_egfr_undetermined",
            recommendation="Cannot decide anti-EGFR eligibility: needs " + unknown + ".",
            rationale="no criterion failed; unknown: " + unknown + ".",
            strength=Strength.information,
            kind="information",
            evidence=("ahpba2025",),
            details={**details, "missing": [c["criterion"] for c in criteria
                                            if c["status"] == "unknown"]},
        )


@rule(
    topic=TOPIC,
    codes=["systemic.pd1_blockade"],
    trigger="MSI-high / dMMR",
    evidence=["ahpba2025", "andre2020_keynote177"],
    phases=(Phase.workup, Phase.preoperative_therapy, Phase.conversion,
            Phase.extrahepatic_recurrence),
)
def pd1_blockade(patient: Patient, findings: Findings) -> Iterator[Item]:
    """dMMR/MSI-H → PD-1 blockade, standard in the perioperative setting (AHPBA guideline 2025)."""
    if patient.molecular.msi != MsiStatus.msi_high:
        return
    yield Item(
        code="systemic.pd1_blockade",
        recommendation="Consider PD-1 checkpoint blockade (e.g. pembrolizumab) as standard "
        "perioperative systemic therapy; monitor closely for early progression.",
        rationale="MSI-high (dMMR) → pembrolizumab prolonged PFS vs chemotherapy in "
        "KEYNOTE-177; a subset progresses early (AHPBA guideline 2025).",
        strength=Strength.strong,
    )


@rule(
    topic=TOPIC,
    codes=["systemic.anti_her2_option"],
    trigger="HER2 amplified",
    evidence=["ahpba2025", "sartore_bianchi2016_heracles"],
    phases=(Phase.workup, Phase.preoperative_therapy, Phase.conversion,
            Phase.extrahepatic_recurrence),
)
def anti_her2(patient: Patient, findings: Findings) -> Iterator[Item]:
    """HER2 amplification → anti-HER2 therapy is an option (anti-EGFR resistance)."""
    if patient.molecular.her2 != Her2Status.amplified:
        return
    yield Item(
        code="systemic.anti_her2_option",
        recommendation="Anti-HER2 therapy is an option, notably after anti-EGFR resistance.",
        rationale="HER2 amplified (2–9 % of metastatic CRC) → drives anti-EGFR resistance; "
        "dual HER2 blockade active in HERACLES (AHPBA guideline 2025).",
        strength=Strength.weak,
    )


@rule(
    topic=TOPIC,
    codes=["systemic.braf_targeted"],
    trigger="BRAF V600E",
    evidence=["ahpba2025", "pietrantonio2015_braf"],
    phases=(Phase.workup, Phase.preoperative_therapy, Phase.conversion,
            Phase.extrahepatic_recurrence),
)
def braf_targeted(patient: Patient, findings: Findings) -> Iterator[Item]:
    """BRAF V600E → BRAF-inhibitor regimen; anti-EGFR only within it; poor prognosis."""
    if patient.molecular.braf != BrafStatus.v600e:
        return
    yield Item(
        code="systemic.braf_targeted",
        recommendation="Use a BRAF-inhibitor-based combination (anti-EGFR only as part of it); "
        "counsel on poor prognosis after resection.",
        rationale="BRAF V600E → insensitive to anti-EGFR alone; after resection 2-y OS 61 % vs "
        "86 % for BRAF wild type and > 90 % recur (AHPBA guideline 2025).",
        strength=Strength.moderate,
    )


@rule(
    topic=TOPIC,
    codes=["systemic.bevacizumab_first_choice"],
    trigger="preoperative chemotherapy indicated (see resection) or anti-VEGF already given",
    evidence=["maki2023_locoregional", "ahpba2025"],
    phases=(Phase.workup, Phase.conversion),
    excludes={"systemic.bevacizumab_first_choice": ["resection.hepatectomy_despite_progression",
                                                   "resection.progression_on_chemotherapy",
                                                   "resection.progression_undetermined"]},
)
def bevacizumab_before_hepatectomy(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Bevacizumab as first-choice biologic before hepatectomy, with the interval to surgery."""
    if findings.timeline.preoperative.response == Response.PD:
        return  # progression on systemic therapy: the regimen changes (resection rules)
    indicated = preoperative_chemotherapy(patient, findings).indicated is True
    given = patient.chemotherapy.anti_vegf is True
    if not (indicated or given):
        return
    why = "anti-VEGF (bevacizumab) given" if given else "preoperative chemotherapy indicated"
    yield Item(
        code="systemic.bevacizumab_first_choice",
        recommendation="Bevacizumab is the first-choice biologic with preoperative "
        "chemotherapy; operate 5–6 weeks after the last dose.",
        rationale=(
            f"{why} → MD Anderson standard is FOLFOX + bevacizumab for 8–12 weeks with surgery "
            "5–6 weeks later, bevacizumab being effective irrespective of RAS status (Maki 2023b); "
            "AHPBA guideline 2025 states no washout interval of its own."
        ),
        strength=Strength.moderate,
        details={"chemotherapy_weeks": [8, 12], "surgery_after_last_dose_weeks": [5, 6]},
    )


@rule(
    topic=TOPIC,
    codes=["systemic.molecular_testing_missing"],
    trigger="any of KRAS, NRAS, BRAF, MSI, HER2 not known",
    evidence=["ahpba2025"],
    phases=(Phase.workup, Phase.preoperative_therapy, Phase.conversion,
            Phase.extrahepatic_recurrence),
)
def molecular_testing_missing(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Name the molecular results the systemic-therapy rules still need."""
    m = patient.molecular
    missing = [
        name
        for name, value, unknown in (
            ("molecular.kras", m.kras, Mutation.unknown),
            ("molecular.nras", m.nras, Mutation.unknown),
            ("molecular.braf", m.braf, BrafStatus.unknown),
            ("molecular.msi", m.msi, MsiStatus.unknown),
            ("molecular.her2", m.her2, Her2Status.unknown),
        )
        if value is None or value == unknown
    ]
    if not missing:
        return
    yield Item(
        code="systemic.molecular_testing_missing",
        recommendation="Complete molecular testing: " + ", ".join(missing) + ".",
        rationale="these results decide anti-EGFR, PD-1, anti-HER2 and BRAF-targeted options "
        "(AHPBA guideline 2025).",
        strength=Strength.information,
        kind="information",
        details={"missing": missing},
    )
