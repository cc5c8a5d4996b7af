"""Output safety, in one place: CSV cells that a spreadsheet would run as a formula are
neutralised, and files appear whole or not at all (markdown escaping lives with the tumour-board
renderer, ``crlm.reports.tumour_board._md``).

- **CSV formula injection** (OWASP "CSV injection"): a cell beginning with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return is prefixed with ``'`` so Excel, LibreOffice and Google Sheets
  show it as text. Plain numbers (``-3.5``, ``+1e-3``) are left alone: they are data, not formulas,
  and a negative coefficient must stay a number. Every CSV crlm writes goes through
  :func:`safe_csv_writer`, :func:`safe_dict_writer` or :func:`frame_to_csv`.
- **Atomic files**: :func:`atomic_write` writes to a temporary file in the target's directory and
  renames it over the target only when writing succeeded.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported by the functions that need it (fast start-up)
    import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(cell: Any) -> Any:
    """The cell, prefixed with ``'`` if it is text a spreadsheet would treat as a formula."""
    if isinstance(cell, str) and cell.startswith(FORMULA_PREFIXES) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


class _SafeWriter:
    """A ``csv.writer`` whose rows are neutralised cell by cell."""

    def __init__(self, fh: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(fh, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(c) for c in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class _SafeDictWriter(csv.DictWriter):  # type: ignore[type-arg]
    """A ``csv.DictWriter`` whose header and rows are neutralised."""

    def writeheader(self) -> Any:
        return self.writer.writerow([neutralise(c) for c in self.fieldnames])

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({k: neutralise(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)


def safe_csv_writer(fh: IO[str], **kwargs: Any) -> _SafeWriter:
    """A CSV writer (``csv.writer`` arguments) that neutralises formula-like cells."""
    return _SafeWriter(fh, **kwargs)


def safe_dict_writer(fh: IO[str], fieldnames: Sequence[str], **kwargs: Any) -> _SafeDictWriter:
    """A ``csv.DictWriter`` that neutralises formula-like cells (header included)."""
    return _SafeDictWriter(fh, fieldnames=fieldnames, **kwargs)


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) are neutralised."""
    import pandas as pd

    out = frame.copy()
    for name in out.columns:
        if out[name].dtype == object or pd.api.types.is_string_dtype(out[name]):
            out[name] = out[name].map(neutralise)
    out.columns = [neutralise(c) for c in out.columns]
    return out


def frame_csv_text(frame: pd.DataFrame, *, header: bool = True) -> str:
    """``frame`` as safe CSV text without the index (``header=False``: a later chunk)."""
    return safe_frame(frame).to_csv(index=False, header=header)  # type: ignore[no-any-return]


def frame_to_csv(frame: pd.DataFrame, path: str | Path | None = None, *,
                 index: bool = False, private: bool = False) -> str:
    """``frame`` as safe CSV text; also written (atomically) to ``path`` when given."""
    text: str = safe_frame(frame).to_csv(index=index)
    if path is not None:
        with atomic_write(path, private=private) as fh:
            fh.write(text)
    return text


def _file_mode(target: Path, private: bool) -> int:
    """Owner-only for patient data; else the replaced file's mode, or the umask's default."""
    if private:
        return 0o600
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(path: str | Path, *, encoding: str = "utf-8", newline: str | None = None,
                 private: bool = False) -> Iterator[IO[str]]:
    """Open a temporary file beside ``path`` for writing; rename it to ``path`` on success.

    On any error the temporary file is removed and ``path`` is left as it was: no half-written
    export is ever visible under the target name. ``private`` files (patient data) are readable
    by their owner only.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                               dir=target.parent if str(target.parent) else ".")
    try:
        os.fchmod(fd, _file_mode(target, private))
        with os.fdopen(fd, "w", encoding=encoding, newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
