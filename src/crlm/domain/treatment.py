"""The treatment timeline as entered: one dated event per systemic-therapy line, radiotherapy
course, portal vein embolisation, ALPPS, hepatectomy (or stage of a two-stage hepatectomy),
primary resection, ablation or recurrence.

An event carries only the fields that belong to its kind (a regimen on a hepatectomy is an
error, named). Absent fields are unknown. :mod:`crlm.clinical.timeline` orders the events and
maps the older ``chemotherapy`` / ``operations`` input onto the same timeline.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Self, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from crlm.domain.dates import PlannableDate


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=False)


class TreatmentKind(StrEnum):
    """What happened to the patient."""

    systemic_therapy = "systemic_therapy"
    radiotherapy = "radiotherapy"
    pve = "pve"
    alpps = "alpps"
    hepatectomy = "hepatectomy"
    primary_resection = "primary_resection"
    ablation = "ablation"
    recurrence = "recurrence"


class Regimen(StrEnum):
    """Cytotoxic backbone of a systemic-therapy line (coded, never free text)."""

    folfox = "folfox"
    capox = "capox"
    folfiri = "folfiri"
    folfoxiri = "folfoxiri"
    fluoropyrimidine = "fluoropyrimidine"  # 5-FU/leucovorin or capecitabine alone
    irinotecan = "irinotecan"
    immunotherapy = "immunotherapy"  # PD-1 blockade without a cytotoxic backbone
    other = "other"


class Biologic(StrEnum):
    """Targeted agent added to the backbone."""

    none = "none"
    bevacizumab = "bevacizumab"
    aflibercept = "aflibercept"
    cetuximab = "cetuximab"
    panitumumab = "panitumumab"
    trastuzumab = "trastuzumab"
    encorafenib = "encorafenib"
    pembrolizumab = "pembrolizumab"
    other = "other"


ANTI_VEGF = frozenset({Biologic.bevacizumab, Biologic.aflibercept})
ANTI_EGFR = frozenset({Biologic.cetuximab, Biologic.panitumumab})


class TherapyIntent(StrEnum):
    """Why a systemic-therapy line was given."""

    preoperative = "preoperative"  # resectable disease, before hepatectomy
    conversion = "conversion"  # initially unresectable, aiming at resection
    adjuvant = "adjuvant"  # after curative-intent treatment
    palliative = "palliative"


class RadiotherapyCourse(StrEnum):
    """Pelvic radiotherapy for a rectal primary."""

    short_course = "short_course"  # 5 × 5 Gy
    long_course = "long_course"  # chemoradiotherapy, 25–28 fractions


class RecurrenceSite(StrEnum):
    """Where disease recurred (coded, never free text)."""

    liver = "liver"
    lung = "lung"
    peritoneum = "peritoneum"
    lymph_nodes = "lymph_nodes"
    locoregional = "locoregional"
    bone = "bone"
    brain = "brain"
    other = "other"


# ---------------------------------------------------------------------------- coded input
# Regimen and recurrence site are coded, never free text (free text would carry names, phone
# numbers and addresses into de-identified exports). Input may use a common spelling from the
# small tables below, compared ignoring case, spaces, hyphens, underscores and dots; anything
# else is an error that lists the vocabulary. Free text belongs in the patient's ``notes``.

#: Spellings accepted for each regimen (besides the code itself).
REGIMEN_SYNONYMS: dict[Regimen, tuple[str, ...]] = {
    Regimen.folfox: ("FOLFOX4", "FOLFOX6", "mFOLFOX6", "modified FOLFOX6", "FOLFOX-6"),
    Regimen.capox: ("XELOX", "CAPEOX"),
    Regimen.folfiri: (),
    Regimen.folfoxiri: ("FOLFIRINOX", "mFOLFIRINOX"),
    Regimen.fluoropyrimidine: ("5-FU", "5-FU/LV", "5-FU/leucovorin", "fluorouracil", "LV5FU2",
                               "de Gramont", "capecitabine", "Xeloda"),
    Regimen.irinotecan: (),
    Regimen.immunotherapy: (),
    Regimen.other: (),
}
#: Spellings of the targeted agents that the ``chemotherapy`` section records as flags.
BIOLOGIC_SYNONYMS: dict[Biologic, tuple[str, ...]] = {
    Biologic.bevacizumab: ("bevacizumab", "bev", "Avastin"),
    Biologic.aflibercept: ("aflibercept", "Zaltrap"),
    Biologic.cetuximab: ("cetuximab", "Erbitux"),
    Biologic.panitumumab: ("panitumumab", "Vectibix"),
}
#: Spellings accepted for each recurrence site (besides the code itself).
RECURRENCE_SITE_SYNONYMS: dict[RecurrenceSite, tuple[str, ...]] = {
    RecurrenceSite.liver: ("hepatic", "intrahepatic"),
    RecurrenceSite.lung: ("lungs", "pulmonary"),
    RecurrenceSite.peritoneum: ("peritoneal",),
    RecurrenceSite.lymph_nodes: ("lymph node", "nodes", "nodal"),
    RecurrenceSite.locoregional: ("local", "anastomotic", "pelvic"),
    RecurrenceSite.bone: ("bones", "osseous", "skeletal"),
    RecurrenceSite.brain: ("cerebral",),
    RecurrenceSite.other: (),
}


E = TypeVar("E", bound=StrEnum)


def spelling_key(text: str) -> str:
    """How input spellings are compared: case-folded, without spaces, ``-``, ``_`` and ``.``."""
    return "".join(ch for ch in text.casefold() if not ch.isspace() and ch not in "-_.")


def _lookup(table: dict[E, tuple[str, ...]]) -> dict[str, E]:
    return {spelling_key(s): code for code, spellings in table.items()
            for s in (code.value, *spellings)}


_REGIMENS = _lookup(REGIMEN_SYNONYMS)
_BIOLOGICS = _lookup(BIOLOGIC_SYNONYMS)
_SITES = _lookup(RECURRENCE_SITE_SYNONYMS)


def regimen_code(text: str) -> Regimen | None:
    """The regimen a spelling stands for (``"XELOX"`` → capox), or None if not in the table."""
    return _REGIMENS.get(spelling_key(text))


def regimen_with_biologics(text: str) -> tuple[Regimen, tuple[Biologic, ...]] | None:
    """A combination such as ``"FOLFOX + bevacizumab"``: (backbone, biologics), else None."""
    parts = [p for p in text.replace(" with ", "+").split("+") if p.strip()]
    if len(parts) < 2:
        return None
    backbone = regimen_code(parts[0])
    biologics = tuple(_BIOLOGICS.get(spelling_key(p)) for p in parts[1:])
    if backbone is None or None in biologics:
        return None
    return backbone, biologics  # type: ignore[return-value]


def recurrence_site_code(text: str) -> RecurrenceSite | None:
    """The recurrence site a spelling stands for (``"pulmonary"`` → lung), or None."""
    return _SITES.get(spelling_key(text))


def _vocabulary(table: dict[Any, tuple[str, ...]]) -> str:
    return ", ".join(code.value + (f" ({', '.join(s)})" if s else "")
                     for code, s in table.items())


def _coded_regimen(value: Any) -> Any:
    if not isinstance(value, str) or isinstance(value, Regimen):
        return value
    code = regimen_code(value)
    if code is not None:
        return code.value
    combination = regimen_with_biologics(value)
    if combination is not None:
        raise ValueError(
            f"{value!r} combines a regimen with a targeted agent: give the regimen here "
            f"({combination[0].value}) and the agent as anti-VEGF / anti-EGFR (or as the "
            "biologic of a systemic-therapy event)")
    raise ValueError(f"{value!r} is not a coded regimen; use one of: "
                     f"{_vocabulary(REGIMEN_SYNONYMS)}; free text belongs in notes")


def _coded_site(value: Any) -> Any:
    if not isinstance(value, str) or isinstance(value, RecurrenceSite):
        return value
    code = recurrence_site_code(value)
    if code is not None:
        return code.value
    raise ValueError(f"{value!r} is not a coded recurrence site; use one of: "
                     f"{_vocabulary(RECURRENCE_SITE_SYNONYMS)}; free text belongs in notes")


#: A regimen field: a code, or a spelling from :data:`REGIMEN_SYNONYMS`.
RegimenCode = Annotated[Regimen, BeforeValidator(_coded_regimen)]
#: A recurrence-site item: a code, or a spelling from :data:`RECURRENCE_SITE_SYNONYMS`.
RecurrenceSiteCode = Annotated[RecurrenceSite, BeforeValidator(_coded_site)]


class Response(StrEnum):
    """RECIST response of the liver metastases to chemotherapy."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"


class HepatectomyProcedure(StrEnum):
    """Liver procedures (Kawaguchi 2020 vocabulary, CLINICAL_SPEC §3)."""

    wedge_resection = "wedge_resection"
    left_lateral_sectionectomy = "left_lateral_sectionectomy"
    segmentectomy_1 = "segmentectomy_1"
    segmentectomy_2 = "segmentectomy_2"
    segmentectomy_3 = "segmentectomy_3"
    segmentectomy_4a = "segmentectomy_4a"
    segmentectomy_4b = "segmentectomy_4b"
    segmentectomy_5 = "segmentectomy_5"
    segmentectomy_6 = "segmentectomy_6"
    segmentectomy_7 = "segmentectomy_7"
    segmentectomy_8 = "segmentectomy_8"
    left_hepatectomy = "left_hepatectomy"
    right_hepatectomy = "right_hepatectomy"
    right_posterior_sectionectomy = "right_posterior_sectionectomy"
    central_hepatectomy = "central_hepatectomy"
    extended_left_hepatectomy = "extended_left_hepatectomy"
    extended_right_hepatectomy = "extended_right_hepatectomy"
    bile_duct_resection = "bile_duct_resection"


class PrimaryProcedure(StrEnum):
    anterior_resection = "anterior_resection"
    low_anterior_resection = "low_anterior_resection"
    low_anterior_resection_with_diversion = "low_anterior_resection_with_diversion"
    abdominoperineal_resection = "abdominoperineal_resection"
    colectomy = "colectomy"
    right_colectomy = "right_colectomy"
    left_colectomy = "left_colectomy"
    sigmoid_colectomy = "sigmoid_colectomy"
    transverse_colectomy = "transverse_colectomy"
    total_colectomy = "total_colectomy"


class ClavienDindo(StrEnum):
    I = "I"  # noqa: E741
    II = "II"
    IIIa = "IIIa"
    IIIb = "IIIb"
    IVa = "IVa"
    IVb = "IVb"
    V = "V"


class IsglsPhlf(StrEnum):
    none = "none"
    A = "A"
    B = "B"
    C = "C"


MarginMm = Annotated[float, Field(ge=0, le=200)]

#: Fields each kind of event may carry (beyond ``kind``, ``date`` and ``end_date``).
FIELDS_BY_KIND: dict[TreatmentKind, frozenset[str]] = {
    TreatmentKind.systemic_therapy: frozenset(
        {"regimen", "biologic", "cycles", "intent", "response", "tumour_size_change_percent"}
    ),
    TreatmentKind.radiotherapy: frozenset({"radiotherapy_course"}),
    TreatmentKind.pve: frozenset(),
    TreatmentKind.alpps: frozenset({"hepatectomy_stage"}),
    TreatmentKind.hepatectomy: frozenset(
        {"procedures", "hepatectomy_stage", "margin_mm", "clavien_dindo", "isgls_phlf"}
    ),
    TreatmentKind.primary_resection: frozenset(
        {"primary_procedure", "margin_mm", "clavien_dindo"}
    ),
    TreatmentKind.ablation: frozenset({"margin_mm"}),
    TreatmentKind.recurrence: frozenset({"recurrence_sites"}),
}

#: Kinds that last a while (a course with an end date); the others happen on one day.
COURSE_KINDS = frozenset({TreatmentKind.systemic_therapy, TreatmentKind.radiotherapy})


class TreatmentEvent(_Strict):
    """One dated step of the patient's treatment history."""

    kind: TreatmentKind
    date: PlannableDate | None = Field(
        default=None, description="Day of the procedure, or the first day of a course."
    )
    end_date: PlannableDate | None = Field(
        default=None,
        description="Last dose or fraction of a course (systemic therapy, radiotherapy).",
    )
    regimen: RegimenCode | None = None
    biologic: Biologic | None = None
    cycles: Annotated[int, Field(ge=1, le=100)] | None = None
    intent: TherapyIntent | None = None
    response: Response | None = None
    tumour_size_change_percent: Annotated[float, Field(ge=-100, le=1000)] | None = Field(
        default=None,
        description="Change in the sum of the target lesions' diameters (RECIST), in %.",
    )
    radiotherapy_course: RadiotherapyCourse | None = None
    hepatectomy_stage: Annotated[int, Field(ge=1, le=2)] | None = Field(
        default=None, description="Stage of a two-stage hepatectomy (or ALPPS); absent = one stage."
    )
    procedures: list[HepatectomyProcedure] | None = None
    primary_procedure: PrimaryProcedure | None = None
    margin_mm: MarginMm | None = None
    clavien_dindo: ClavienDindo | None = None
    isgls_phlf: IsglsPhlf | None = None
    recurrence_sites: list[RecurrenceSiteCode] | None = None

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> Self:
        allowed = FIELDS_BY_KIND[self.kind]
        for name in type(self).model_fields:
            if name in {"kind", "date", "end_date"} or name in allowed:
                continue
            if getattr(self, name) is not None:
                raise ValueError(f"{name} does not apply to a {self.kind.value} event")
        if self.end_date is not None:
            if self.kind not in COURSE_KINDS:
                raise ValueError(f"end_date does not apply to a {self.kind.value} event")
            if self.date is not None and self.end_date < self.date:
                raise ValueError(f"end_date {self.end_date} is before date {self.date}")
        return self

    @property
    def last_day(self) -> dt.date | None:
        """The day the event ended (a course's end date, else its date)."""
        return self.end_date or self.date
