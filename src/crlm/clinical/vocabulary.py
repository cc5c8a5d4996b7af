"""The one vocabulary: the human label of every patient field, enum value, score and phase, and
one rounding rule per quantity. The web app, the CLI, the reports and every "needs …" message
read it, so nobody sees ``liver.margin_mm``, ``right_hepatectomy``, ``True`` or ``24.0969 %``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

from crlm.clinical.phase import Phase

#: field path → (label, unit or None). Paths are dotted; ``treatments.x`` is a timeline field.
FIELDS: dict[str, tuple[str, str | None]] = {
    "id": ("patient identifier", None),
    "age_years": ("age", "years"),
    "sex": ("sex", None),
    "height_cm": ("height", "cm"),
    "weight_kg": ("weight", "kg"),
    "assessment_date": ("date of the MDT assessment", None),
    "primary.site": ("site of the primary tumour", None),
    "primary.distance_from_anal_verge_cm": ("distance of the tumour from the anal verge", "cm"),
    "primary.t_category": ("T category of the primary", None),
    "primary.n_category": ("N category of the primary", None),
    "primary.node_positive": ("node-positive primary", None),
    "primary.serosal_invasion": ("serosal invasion of the primary", None),
    "primary.symptoms": ("symptoms of the primary tumour", None),
    "primary.resected": ("whether the primary tumour has been resected", None),
    "primary.date_of_diagnosis": ("date of diagnosis of the primary", None),
    "primary.planned_procedure": ("planned resection of the primary", None),
    "primary.easily_resectable": ("whether the MDT judges the primary easily resectable", None),
    "primary.clinical_complete_response": ("complete clinical response of the primary", None),
    "primary.locally_advanced": ("whether the rectal primary is locally advanced", None),
    "primary.declines_chemotherapy_before_resection": (
        "patient declines chemotherapy before rectal resection", None),
    "liver.timing": ("timing of the liver metastases (synchronous or metachronous)", None),
    "liver.disease_free_interval_months": ("disease-free interval primary to liver metastases",
                                           "months"),
    "liver.number_of_metastases": ("number of liver metastases", None),
    "liver.largest_diameter_cm": ("diameter of the largest liver metastasis", "cm"),
    "liver.bilobar": ("bilobar liver disease", None),
    "liver.lesions": ("liver lesions (segment, diameter, depth)", None),
    "liver.lesions.segment": ("segment of the lesion", None),
    "liver.lesions.diameter_cm": ("diameter of the lesion", "cm"),
    "liver.lesions.deep": ("deep-seated lesion", None),
    "liver.planned_procedures": ("planned liver resection", None),
    "liver.planned_ablation": ("planned ablation", None),
    "liver.margin_mm": ("resection margin", "mm"),
    "liver.resectability": ("resectability of the liver metastases", None),
    "liver.prior_two_stage_hepatectomy": ("previous two-stage hepatectomy", None),
    "liver.extensive_disease": ("whether the MDT judges the liver disease extensive", None),
    "liver.intrahepatic_progression": ("intrahepatic progression", None),
    "extrahepatic_disease": ("extrahepatic disease", None),
    "labs.cea_ng_ml": ("CEA", "ng/mL"),
    "labs.ca19_9_u_ml": ("CA 19-9", "U/mL"),
    "labs.bilirubin_mg_dl": ("bilirubin", "mg/dL"),
    "labs.albumin_g_dl": ("albumin", "g/dL"),
    "labs.icg_r15_percent": ("ICG retention at 15 minutes", "%"),
    "labs.platelets_10e9_l": ("platelets", "×10⁹/L"),
    "labs.inr": ("INR", None),
    "molecular.kras": ("KRAS status", None),
    "molecular.nras": ("NRAS status", None),
    "molecular.braf": ("BRAF status", None),
    "molecular.tp53": ("TP53 status", None),
    "molecular.smad4": ("SMAD4 status", None),
    "molecular.apc": ("APC status", None),
    "molecular.fbxw7": ("FBXW7 status", None),
    "molecular.msi": ("microsatellite status", None),
    "molecular.her2": ("HER2 status", None),
    "chemotherapy.prehepatectomy_cycles": ("chemotherapy cycles before hepatectomy", None),
    "chemotherapy.duration_weeks": ("length of preoperative chemotherapy", "weeks"),
    "chemotherapy.regimen": ("chemotherapy regimen", None),
    "chemotherapy.anti_vegf": ("anti-VEGF antibody given", None),
    "chemotherapy.anti_egfr": ("anti-EGFR antibody given", None),
    "chemotherapy.response": ("response to chemotherapy (RECIST)", None),
    "chemotherapy.lines": ("lines of chemotherapy", None),
    "volumetry.total_liver_volume_ml": ("measured total liver volume", "mL"),
    "volumetry.flr_volume_ml": ("future liver remnant volume", "mL"),
    "volumetry.flr_volume_after_pve_ml": ("future liver remnant volume after PVE", "mL"),
    "volumetry.weeks_after_pve": ("weeks from PVE to volumetry", "weeks"),
    "volumetry.liver_condition": ("condition of the liver (normal, chemotherapy-injured, "
                                  "cirrhosis)", None),
    "operations": ("operations", None),
    "treatments": ("treatment history (timeline)", None),
    "treatments.kind": ("type of treatment", None),
    "treatments.date": ("date (or first day)", None),
    "treatments.end_date": ("end date of the course (last dose)", None),
    "treatments.regimen": ("regimen", None),
    "treatments.biologic": ("targeted agent", None),
    "treatments.cycles": ("cycles", None),
    "treatments.intent": ("intent", None),
    "treatments.response": ("response (RECIST)", None),
    "treatments.tumour_size_change_percent": ("% change in tumour size (sum of diameters)", "%"),
    "treatments.radiotherapy_course": ("radiotherapy course", None),
    "treatments.hepatectomy_stage": ("stage of a two-stage hepatectomy", None),
    "treatments.procedures": ("liver procedures", None),
    "treatments.primary_procedure": ("resection of the primary", None),
    "treatments.margin_mm": ("margin", "mm"),
    "treatments.clavien_dindo": ("Clavien–Dindo grade", None),
    "treatments.isgls_phlf": ("post-hepatectomy liver failure (ISGLS)", None),
    "treatments.recurrence_sites": ("sites of recurrence", None),
    "outcome.date_last_follow_up": ("date of last follow-up", None),
    "outcome.vital_status": ("vital status", None),
    "outcome.date_of_death": ("date of death", None),
    "outcome.date_of_recurrence": ("date of recurrence", None),
    "outcome.recurrence_sites": ("sites of recurrence", None),
    "notes": ("notes (free text; never in a de-identified export)", None),
}

#: enum value → label, where the value itself does not read well once underscores become spaces.
VALUES: dict[str, str] = {
    "mss": "microsatellite stable", "msi_high": "MSI-high (dMMR)",
    "v600e": "V600E mutant", "non_v600e": "non-V600E mutant", "wildtype": "wild type",
    "amplified": "amplified", "not_amplified": "not amplified",
    "CR": "complete response", "PR": "partial response", "SD": "stable disease",
    "PD": "progressive disease",
    "chemotherapy_injured": "chemotherapy-injured",
    "folfox": "FOLFOX", "capox": "CAPOX", "folfiri": "FOLFIRI", "folfoxiri": "FOLFOXIRI",
    "pve": "portal vein embolization", "alpps": "ALPPS",
    "systemic_therapy": "systemic therapy",
    "short_course": "short-course (5 × 5 Gy)", "long_course": "long-course chemoradiotherapy",
    "segmentectomy_4a": "segmentectomy 4a", "segmentectomy_4b": "segmentectomy 4b",
    "lymph_nodes": "lymph nodes",
    "none": "none",
    "change_in_bowel_habit": "change in bowel habit",
}

#: Score names as a tumour board writes them.
SCORES: dict[str, str] = {
    "fong_crs": "Fong clinical risk score",
    "nordlinger": "Nordlinger score",
    "game": "GAME score",
    "tumor_burden_score": "Tumour burden score",
    "mcs": "Modified clinical score (m-CS)",
    "contour_5y_os": "Contour model 5-year OS",
    "pathway_grade": "Pathway-centric grade",
}

PHASES: dict[Phase, str] = {
    Phase.workup: "Work-up, before any treatment decision",
    Phase.preoperative_therapy: "On or after preoperative systemic therapy",
    Phase.conversion: "Conversion therapy (unresectable or borderline liver disease)",
    Phase.after_pve: "After portal vein embolization, before hepatectomy",
    Phase.between_stages: "Between the stages of a two-stage hepatectomy",
    Phase.primary_pending: "Liver treated, primary tumour still in place",
    Phase.surveillance: "Surveillance after curative-intent treatment",
    Phase.extrahepatic_recurrence: "Recurrence outside the liver",
}

TOPICS: dict[str, str] = {
    "sequencing": "Sequencing of primary and liver surgery",
    "schedule": "Liver-first vs M1 schedule",
    "resection": "Liver resection",
    "ablation": "Ablation",
    "systemic": "Systemic therapy",
    "unresectable": "Unresectable disease and transplant",
    "surveillance": "Surveillance",
    "imaging": "Imaging",
}

_INDEX = re.compile(r"\[[^\]]*\]")


def field_label(path: str, *, unit: bool = True) -> str:
    """``liver.margin_mm`` → ``resection margin (mm)``; list indexes are ignored."""
    clean = _INDEX.sub("", path)
    if clean not in FIELDS:
        return humanize(clean)
    label, u = FIELDS[clean]
    return f"{label} ({u})" if unit and u else label


def needs(paths: Iterable[str]) -> str:
    """``needs the resection margin (mm) and the KRAS status`` for missing field paths."""
    labels = [humanize(field_label(p)) for p in paths]
    if not labels:
        return ""
    joined = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    return "needs " + joined


_PATH_NAMES = [p for p in sorted(FIELDS, key=len, reverse=True) if "." in p or "_" in p]
_PATHS = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(p) for p in _PATH_NAMES) + r")(?:\[[^\]]*\])?(?![\w])")
#: A text with neither ``_`` nor a dot followed by a letter can hold no field path and
#: no snake_case word, so ``humanize`` skips those two (slow) scans; the shortcut is only taken
#: when every field path has such a mark.
_INTERNAL_MARK = re.compile(r"_|\.[a-z]", re.IGNORECASE)
_PATHS_MARKED = all(_INTERNAL_MARK.search(p) for p in _PATH_NAMES)
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_LITERALS = {"True": "yes", "False": "no", "None": "unknown", "wildtype": "wild type"}
_LITERAL = re.compile(r"\b(True|False|None|wildtype)\b")


def humanize(text: str) -> str:
    """Any field path, snake_case code or Python literal left in ``text`` in reader's words.

    Renderers pass every sentence through it, so an internal name can never reach a reader
    even where a rule's prose embeds one.
    """
    if not _PATHS_MARKED or _INTERNAL_MARK.search(text):
        text = _PATHS.sub(lambda m: field_label(m.group(1)), text)
        text = _SNAKE.sub(lambda m: value_label(m.group(0)), text)
    return _LITERAL.sub(lambda m: _LITERALS[m.group(1)], text)


def value_label(value: object) -> str:
    """An enum member, bool or number as a reader sees it (``yes``, ``right hepatectomy``)."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    if text in VALUES:
        return VALUES[text]
    if text in SCORES:
        return SCORES[text]
    return text.replace("_", " ")


# ---------------------------------------------------------------------------- rounding


def percent(value: float | None) -> str:
    """A percentage with one decimal: ``24.1 %``."""
    return "unknown" if value is None else f"{value:.1f} %"


def bsa(value: float | None) -> str:
    """Body surface area with two decimals: ``1.98 m²``."""
    return "unknown" if value is None else f"{value:.2f} m²"


def volume_ml(value: float | None) -> str:
    """A volume to the millilitre: ``1 523 mL``."""
    return "unknown" if value is None else f"{value:,.0f} mL".replace(",", " ")


def rate_per_week(value: float | None) -> str:
    """A kinetic growth rate with one decimal: ``2.4 %/week``."""
    return "unknown" if value is None else f"{value:.1f} %/week"


def number(value: float | None, decimals: int = 1) -> str:
    """A plain number: whole numbers without decimals, else ``decimals`` places."""
    if value is None:
        return "unknown"
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.{decimals}f}"
