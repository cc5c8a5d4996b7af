"""The TOML config of ``crlm analyze`` (see examples/maki2023.toml) and its row filters."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crlm.reports.style import Labels, PStyleName

Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "missing", "present"]


class Filter(BaseModel):
    """One selection step: keep (``include``) or drop (``exclude``) rows matching the condition."""

    model_config = ConfigDict(extra="forbid")

    label: str
    column: str
    op: Op
    value: Any = None


class Endpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time: str
    event: str
    label: str = "Overall survival"
    time_scale: float = Field(365.25, gt=0, description="Data time units per displayed unit.")
    time_label: str = "Years"
    time_unit: str = Field("years", description="The displayed unit, after every median.")
    event_label: str = Field("Events", description="Column header of the event counts.")
    risk_times: list[float] | None = None
    ci_bands: bool = Field(False, description="Draw 95 % confidence bands on KM curves.")


class GroupSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str
    order: list[str] | None = None


class Table1Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categorical: list[str] = Field(default_factory=list)
    continuous: list[str] = Field(default_factory=list)
    mean_sd: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict, description="Merged into [labels].")
    overall: bool = Field(True, description="Add an Overall column.")
    smd: bool = Field(True, description="Add the standardised mean difference (SMD) column.")


class CoxSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: str = "os"
    factors: list[str]
    threshold: float = Field(0.10, gt=0, le=1)
    forced: list[str] = Field(default_factory=list)
    reference: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict, description="Merged into [labels].")
    firth: bool = Field(False, description="Firth-penalised Cox (small samples, no-event groups).")
    ci: Literal["profile", "wald"] = Field(
        "profile", description="With firth: profile penalised-likelihood (default) or Wald CIs.")


class LogisticSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = "Logistic regression"
    outcome: str
    factors: list[str]
    threshold: float = Field(0.10, gt=0, le=1)
    forced: list[str] = Field(default_factory=list)
    reference: dict[str, str] = Field(default_factory=dict)
    subset: list[Filter] = Field(default_factory=list)
    firth: bool = Field(False, description="Firth-penalised logistic (separation).")
    ci: Literal["profile", "wald"] = Field(
        "profile", description="With firth: profile penalised-likelihood (default) or Wald CIs.")


class CutoffSpec(BaseModel):
    """A marker's discrimination: ROC for a 0/1 ``outcome``; for a survival ``endpoint`` (or an
    outcome that is an endpoint's event column) Harrell's C, time-dependent AUC at
    ``horizons`` (display time units) and the maximally selected log-rank cut-point."""

    model_config = ConfigDict(extra="forbid")

    marker: str
    outcome: str | None = None
    endpoint: str | None = None
    horizons: list[float] = Field(default_factory=lambda: [1.0, 3.0, 5.0])
    expected: dict[str, float] = Field(
        default_factory=dict, description="Survival at calibration_horizon expected for each "
        "marker value (e.g. a published table): adds calibration (O/E, slope, recalibration).")
    calibration_horizon: float = Field(5.0, gt=0, description="In display time units.")

    @model_validator(mode="after")
    def _one_outcome(self) -> CutoffSpec:
        if (self.outcome is None) == (self.endpoint is None):
            raise ValueError("give either outcome (0/1 column) or endpoint (survival)")
        return self


class CompetingSpec(BaseModel):
    """Competing risks: cumulative incidence by group, Gray's test, optional Fine–Gray model."""

    model_config = ConfigDict(extra="forbid")

    time: str
    status: str = Field(description="0 censored, 1, 2, … the cause.")
    causes: dict[str, str] = Field(description='Cause code → label, e.g. {1 = "Recurrence"}.')
    cause: int = Field(1, description="Cause of interest for Gray's test and Fine–Gray.")
    group: str | None = Field(None, description="Grouping column (default: the report group).")
    covariates: list[str] = Field(default_factory=list, description="Fine–Gray covariates.")
    reference: dict[str, str] = Field(default_factory=dict)
    time_scale: float = Field(365.25, gt=0)
    time_label: str = "Years"
    at: list[float] = Field(default_factory=lambda: [1.0, 3.0, 5.0],
                            description="Times (display units) for the incidence table.")


class ScoreValidationSpec(BaseModel):
    """Fong, GAME, TBS and m-CS validated on the cohort (C, AUC(t), calibration)."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str = "os"
    time_unit: Literal["days", "months", "years"] = "days"
    horizons: list[float] = Field(default_factory=lambda: [1.0, 3.0, 5.0])
    scores: dict[str, str] = Field(default_factory=dict,
                                   description="Score name → column; empty: derive them.")
    draws: int = Field(200, ge=0)
    seed: int = 20231


class FigureExport(BaseModel):
    """Figure files at a journal's column width and resolution."""

    model_config = ConfigDict(extra="forbid")

    width: Literal["single", "double"] = Field(
        "double", description="single column 89 mm or double column 183 mm.")
    dpi: Literal[300, 600] = 300
    formats: list[Literal["png", "svg", "pdf", "tiff"]] = Field(
        default_factory=lambda: ["png", "svg"])


class SubgroupKM(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    group: str
    endpoint: str = "os"
    subset: list[Filter] = Field(default_factory=list)


class AnalysisConfig(BaseModel):
    """The TOML config of ``crlm analyze`` (see examples/maki2023.toml)."""

    model_config = ConfigDict(extra="forbid")

    title: str
    source: str = ""
    federated: list[str] = Field(
        default_factory=list, description="Centre files of a federated study ([source] "
        "federated = [...]): registry .db or analysis CSV, one per centre; relative to the "
        "config file.")
    start_label: str = "Patients in the dataset"
    p_style: PStyleName = Field("nejm", description="nejm, lancet or apa (text, tables, figures).")
    labels: dict[str, str] = Field(default_factory=dict, description="Column → label.")
    levels: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Column → {value → label} (legends, rows).")
    figures: FigureExport = Field(default_factory=FigureExport)
    include: list[Filter] = Field(default_factory=list)
    exclude: list[Filter] = Field(default_factory=list)
    group: GroupSpec
    trend_year: str | None = None
    endpoints: dict[str, Endpoint]
    table1: Table1Spec = Field(default_factory=Table1Spec)
    cox: CoxSpec | None = None
    logistic: LogisticSpec | None = None
    cutoffs: list[CutoffSpec] = Field(default_factory=list)
    subgroups: list[SubgroupKM] = Field(default_factory=list)
    competing_risks: CompetingSpec | None = None
    score_validation: ScoreValidationSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _source_table(cls, raw: Any) -> Any:
        """``[source]`` as a table: ``text`` (the source line) and ``federated`` (centres)."""
        if isinstance(raw, dict) and isinstance(raw.get("source"), dict):
            table = dict(raw["source"])
            unknown = set(table) - {"text", "federated"}
            if unknown:
                raise ValueError(f"[source]: unknown key {sorted(unknown)[0]}")
            raw = {**raw, "source": table.get("text", ""),
                   "federated": table.get("federated", [])}
        return raw

    def label_dictionary(self) -> Labels:
        """The one label dictionary: [labels] plus the older per-section label tables."""
        merged = {**self.table1.labels, **(self.cox.labels if self.cox else {}), **self.labels}
        return Labels(merged, self.levels)


class ConfigError(ValueError):
    """The config or data cannot drive the analysis (message names the setting or column)."""


def load_config(path: Path) -> AnalysisConfig:
    """Read and validate the TOML config (errors name the setting)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return AnalysisConfig.model_validate(raw)
    except ValidationError as exc:
        from crlm.domain import format_validation_error

        raise ConfigError(f"{path}:\n{format_validation_error(exc)}") from None


def row_mask(df: pd.DataFrame, f: Filter) -> pd.Series:
    if f.column not in df.columns:
        raise ConfigError(f"filter {f.label!r}: column {f.column!r} not in the data")
    col = df[f.column]
    if f.op == "missing":
        return col.isna()
    if f.op == "present":
        return col.notna()
    if f.op in ("in", "not_in"):
        values = f.value if isinstance(f.value, list) else [f.value]
        m = col.isin(values)
        return m if f.op == "in" else ~m & col.notna()
    ops: dict[str, Callable[[Any, Any], Any]] = {
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
    try:
        return ops[f.op](col, f.value).fillna(False).astype(bool)
    except TypeError as exc:
        raise ConfigError(f"filter {f.label!r}: cannot compare {f.column!r} with "
                          f"{f.value!r} ({exc})") from None


def apply_filters(df: pd.DataFrame, filters: list[Filter]) -> pd.DataFrame:
    """Rows meeting every filter."""
    for f in filters:
        df = df[row_mask(df, f)]
    return df


