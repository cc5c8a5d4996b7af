"""Input checking and design matrices for the analyses in :mod:`crlm.stats`.

Categorical covariates (any non-numeric or boolean column, or a pandas ``Categorical``) expand
to indicator columns named ``name[level]`` against a reference level: the first level (the
categories' order of a ``Categorical``, otherwise sorted order, as R's ``factor``) unless
``reference={"name": "level"}`` chooses another. Text levels sort as R's ``sort()`` does in a
UTF-8 locale with ICU (R's default on Linux and macOS, in C.UTF-8 as in en_US.UTF-8): by the
Unicode collation algorithm's root order — punctuation, then digits, then letters, case
ignored except to break ties (``"<=20" < ">50" < "20-50"``, ``"a" < "A" < "b"``). R in the C
locale sorts by code point instead. Rows with a missing value in any column used
are dropped (complete-case analysis) and the drop is reported per column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

# Printable ASCII in the primary order of the Unicode collation algorithm's root table
# (DUCET/CLDR root, as ICU and R): a fast path that avoids loading the full table.
_ASCII_PRIMARY = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
_ASCII_RANK = {ch: k for k, ch in enumerate(_ASCII_PRIMARY)}
_ASCII_RANK.update({ch.upper(): _ASCII_RANK[ch] for ch in _ASCII_PRIMARY if ch.isalpha()})


class StatsInputError(ValueError):
    """Bad analysis input; ``column`` names the offending column (or ``None``)."""

    def __init__(self, column: str | None, reason: str) -> None:
        self.column = column
        self.reason = reason
        super().__init__(f"{column}: {reason}" if column else reason)


@dataclass(frozen=True)
class DroppedRows:
    """Complete-case report: rows before/after and missing values per column."""

    n_input: int
    n_used: int
    missing_by_column: dict[str, int] = field(default_factory=dict)

    @property
    def n_dropped(self) -> int:
        """Number of rows dropped because a value was missing."""
        return self.n_input - self.n_used

    def describe(self) -> str:
        """One line, e.g. ``41 of 929 rows dropped (missing: nodes 18, differ 23)``."""
        if self.n_dropped == 0:
            return f"no rows dropped ({self.n_used} used)"
        parts = ", ".join(f"{c} {k}" for c, k in self.missing_by_column.items() if k)
        return f"{self.n_dropped} of {self.n_input} rows dropped (missing: {parts})"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "n_input": self.n_input,
            "n_used": self.n_used,
            "n_dropped": self.n_dropped,
            "missing_by_column": {c: k for c, k in self.missing_by_column.items() if k},
        }


@dataclass(frozen=True)
class Design:
    """A numeric design matrix with column names and the terms they came from."""

    matrix: np.ndarray
    names: list[str]
    terms: dict[str, list[str]]
    references: dict[str, str]


def require_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise :class:`StatsInputError` for the first column not in ``df``."""
    for col in columns:
        if col not in df.columns:
            raise StatsInputError(col, "column not found in the data")


def complete_cases(df: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, DroppedRows]:
    """Keep the rows with no missing value in ``columns``; report missing counts per column."""
    require_columns(df, columns)
    cols = list(dict.fromkeys(columns))
    missing = {c: df[c].isna().to_numpy() for c in cols}
    keep = ~np.logical_or.reduce(list(missing.values())) if cols else np.ones(len(df), bool)
    report = DroppedRows(
        n_input=len(df),
        n_used=int(keep.sum()),
        missing_by_column={c: int(m.sum()) for c, m in missing.items()},
    )
    return (df if report.n_dropped == 0 else df.loc[keep]), report


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


@cache
def _collator() -> Any:
    import pyuca  # the full table (≈0.4 s to load) only for text beyond printable ASCII

    return pyuca.Collator()


def collation_key(text: str) -> tuple[tuple[int, ...], ...]:
    """Sort key of ``text`` in the Unicode root collation (R's ``sort()`` with ICU)."""
    if all(ch in _ASCII_RANK for ch in text):
        return (tuple(_ASCII_RANK[ch] for ch in text),
                tuple(int(ch.isupper()) for ch in text), (0,), tuple(map(ord, text)))
    return ((), (), (1,), tuple(_collator().sort_key(text)), tuple(map(ord, text)))


def _collate_levels(codes: np.ndarray, uniques: list[object]) -> tuple[np.ndarray, list[object]]:
    """Reorder text levels (and remap their codes) into R's collation order."""
    if not uniques or not all(isinstance(u, str) for u in uniques):
        return codes, uniques
    keys = [collation_key(u) for u in uniques]
    if any(k[2] == (1,) for k in keys):  # some text beyond ASCII: every key from the table
        keys = [((), (), (1,), tuple(_collator().sort_key(u)), tuple(map(ord, u)))
                for u in uniques]
    order = sorted(range(len(uniques)), key=keys.__getitem__)
    position = np.empty(len(uniques) + 1, dtype=np.int64)
    position[order] = np.arange(len(order))
    position[-1] = -1  # missing stays −1
    return position[codes], [uniques[k] for k in order]


def factor_codes(series: pd.Series) -> tuple[np.ndarray, list[object]]:
    """Integer codes (−1 = missing) and levels present, ordered as R's ``factor``.

    A pandas ``Categorical`` keeps its categories' order; numbers sort by value and text by
    R's collation (see the module docstring).
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        raw = series.cat.codes.to_numpy().astype(np.int64)
        present = np.unique(raw[raw >= 0])
        remap = np.full(len(series.cat.categories) + 1, -1, dtype=np.int64)
        remap[present] = np.arange(present.size)
        return remap[raw], [series.cat.categories[i] for i in present]
    try:
        codes, uniques = pd.factorize(series, sort=True)
    except TypeError:  # mixed types that do not sort: order by their text
        codes, uniques = pd.factorize(series.astype(str).where(series.notna()), sort=True)
    return _collate_levels(codes.astype(np.int64), list(uniques))


NUMERIC_SHARE = 0.5  # a text column with more numbers than this is a numeric column with typos
MAX_ROWS_SHOWN = 5


def _refuse_text_in_numbers(series: pd.Series, name: str) -> None:
    """Raise naming the rows when a mostly numeric column holds some text (``"abc"``, ``"n/a"``).

    Such a column would otherwise be fitted as a factor with one level per number.
    """
    if not (series.dtype == object or isinstance(series.dtype, pd.StringDtype)) or series.empty:
        return
    numbers = pd.to_numeric(series, errors="coerce")
    text = numbers.isna() & series.notna()
    if not text.any() or numbers.notna().mean() <= NUMERIC_SHARE:
        return
    rows = [f'row {_row_label(i)}: "{series.loc[i]}"' for i in series.index[text][:MAX_ROWS_SHOWN]]
    more = f" and {int(text.sum()) - MAX_ROWS_SHOWN} more" if text.sum() > MAX_ROWS_SHOWN else ""
    raise StatsInputError(
        name, f"numeric column holds text ({'; '.join(rows)}{more}); correct or blank these "
              "values, or declare the column categorical to fit it as a factor")


def _row_label(index: object) -> str:
    """Data row number (1 = first row after the header) for a default integer index."""
    return str(index + 1) if isinstance(index, int | np.integer) else str(index)


def design_matrix(
    df: pd.DataFrame,
    covariates: Sequence[str],
    reference: Mapping[str, object] | None = None,
    categorical: Sequence[str] = (),
) -> Design:
    """Build the design matrix of ``covariates`` (no intercept) from complete rows of ``df``.

    Numeric columns enter as they are; categorical ones (non-numeric, boolean, listed in
    ``categorical`` or given a ``reference`` level — R's ``factor()``) as ``name[level]``
    indicators against the reference level. A constant or collinear covariate is an input
    error naming it.
    """
    reference = dict(reference or {})
    for name in categorical:
        if name not in covariates:
            raise StatsInputError(name, "declared categorical but not a covariate")
    require_columns(df, covariates)
    for name in reference:
        if name not in covariates:
            raise StatsInputError(name, "reference level given for a non-covariate column")
    blocks: list[np.ndarray] = []
    names: list[str] = []
    terms: dict[str, list[str]] = {}
    refs: dict[str, str] = {}
    numeric: list[int] = []  # columns entered as they are (checked once in the matrix)
    for cov in covariates:
        series = df[cov]
        declared = cov in categorical or cov in reference
        if not declared:
            _refuse_text_in_numbers(series, cov)
        if _is_categorical(series) or declared:
            codes, levels = factor_codes(series)
            if len(levels) < 2:
                shown = ", ".join(level_label(v) for v in levels)
                raise StatsInputError(cov, f"constant covariate (only level {shown})")
            ref = levels[0]
            if cov in reference:
                wanted = reference[cov]
                matches = [lv for lv in levels
                           if lv == wanted or level_label(lv) == level_label(wanted)]
                if not matches:
                    shown = [level_label(v) for v in levels]
                    raise StatsInputError(cov, f"reference level {level_label(wanted)} not among "
                                               + ", ".join(shown))
                ref = matches[0]
            cols = [k for k, lv in enumerate(levels) if lv != ref]
            terms[cov] = [f"{cov}[{level_label(levels[k])}]" for k in cols]
            refs[cov] = level_label(ref)
            for k in cols:
                blocks.append((codes == k).astype(float))
            names.extend(terms[cov])
        else:
            numeric.append(len(blocks))
            blocks.append(series.to_numpy(dtype=float))  # a view when already float
            names.append(cov)
            terms[cov] = [cov]
    matrix = np.empty((len(df), len(blocks)), order="F")  # column-major: contiguous writes
    for k, block in enumerate(blocks):
        matrix[:, k] = block
    for k in numeric:
        name, column = names[k], matrix[:, k]
        low, high = (column.min(), column.max()) if column.size else (0.0, 0.0)
        if not (np.isfinite(low) and np.isfinite(high)):  # NaN propagates to min/max
            raise StatsInputError(name, "non-finite value")
        if column.size and low == high:
            raise StatsInputError(
                name, f"constant covariate (every value is {level_label(column[0])})")
    _check_collinearity(matrix, names, terms)
    return Design(matrix=matrix, names=names, terms=terms, references=refs)


def _check_collinearity(matrix: np.ndarray, names: list[str], terms: dict[str, list[str]]
                        ) -> None:
    """Raise naming the first column that is (almost) a linear combination of earlier ones."""
    if matrix.shape[1] < 2:
        return
    mean = matrix.mean(axis=0)
    gram = np.zeros((matrix.shape[1], matrix.shape[1]))
    for start in range(0, matrix.shape[0], 1 << 16):  # centred in cache-sized blocks
        block = matrix[start:start + (1 << 16)] - mean
        gram += block.T @ block
    scale = np.sqrt(np.diag(gram))
    corr = gram / np.outer(scale, scale)
    for k in range(1, corr.shape[0]):
        prev = corr[:k, :k]
        r = corr[:k, k]
        coef = np.linalg.lstsq(prev, r, rcond=None)[0]
        if 1.0 - r @ coef < 1e-10:
            term = next(t for t, cols in terms.items() if names[k] in cols)
            raise StatsInputError(
                term, f"{names[k]} is collinear with other covariates (perfectly predicted)")


def follow_up_times(df: pd.DataFrame, time: str) -> np.ndarray:
    """Validated follow-up times of complete rows: numeric, finite and > 0.

    A time of 0 (an event or censoring on the day of the time origin) is refused rather than
    silently kept or shifted: exclude such rows with an explicit, reported step or recode them.
    """
    require_columns(df, [time])
    if not pd.api.types.is_numeric_dtype(df[time]) or pd.api.types.is_bool_dtype(df[time]):
        raise StatsInputError(time, "follow-up time must be numeric")
    t = df[time].to_numpy(dtype=float)
    if not np.all(np.isfinite(t)):
        raise StatsInputError(time, "follow-up time must be finite")
    if np.any(t < 0):
        raise StatsInputError(time, f"negative follow-up time ({int((t < 0).sum())} rows); "
                                    "check the order of the origin and end dates")
    if np.any(t == 0):
        raise StatsInputError(
            time, f"follow-up time must be > 0 ({int((t == 0).sum())} rows have time 0, e.g. "
                  "an event on the day of the time origin); exclude or recode them explicitly")
    return t


def survival_outcome(df: pd.DataFrame, time: str, event: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated follow-up times (> 0) and event indicators (0/1) from complete rows."""
    require_columns(df, [time, event])
    t = follow_up_times(df, time)
    ev_raw = df[event]
    if pd.api.types.is_bool_dtype(ev_raw):
        e = ev_raw.to_numpy(dtype=float)
    elif pd.api.types.is_numeric_dtype(ev_raw):
        e = ev_raw.to_numpy(dtype=float)
        bad = ~np.isin(e, (0.0, 1.0))
        if np.any(bad):
            raise StatsInputError(
                event, f"event must be 0 (censored) or 1 (event); found {level_label(e[bad][0])}"
            )
    else:
        raise StatsInputError(event, "event must be 0 (censored) or 1 (event), not text")
    return t, e.astype(np.int8)


def group_labels(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and string labels of a grouping column, levels ordered as in R's factor."""
    codes, levels = factor_codes(series)
    return codes, [level_label(lv) for lv in levels]


def level_label(level: object) -> str:
    """Text of a factor level or value; whole-number floats print without ``.0`` (as R does),
    numpy scalars as plain numbers."""
    if isinstance(level, float | np.floating) and float(level).is_integer():
        return str(int(level))
    if isinstance(level, np.generic):
        return str(level.item())
    return str(level)
