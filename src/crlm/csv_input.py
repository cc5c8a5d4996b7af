"""Read an analysis CSV into a pandas DataFrame: pyarrow's multi-threaded reader when installed.

Same frame as ``pandas.read_csv`` with its defaults (tested column by column in
tests/test_csv_input.py): pandas' missing-value markers, quoted text, ``True``/``False`` as
booleans, text columns with NaN for missing cells, dates kept as text, an all-empty column as
float NaN. Anything pyarrow cannot read the same way (duplicate column names, a quoted line
break, invalid UTF-8, a malformed row) is read again by pandas, so the errors and the result
stay pandas'. pyarrow comes with ``crlm[fast]``; without it pandas reads every file.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# pandas' default missing-value markers (pandas._libs.parsers.STR_NA_VALUES, pandas 2.x)
NA_MARKERS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
              "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
_TRUE = ("True", "TRUE", "true")
_FALSE = ("False", "FALSE", "false")


def read_frame(path: str | Path, *, import_meanwhile: Sequence[str] = ()) -> pd.DataFrame:
    """The CSV at ``path`` as pandas would read it, by pyarrow when it can.

    pyarrow parses the file in a background thread (its reader releases the GIL) while this
    thread imports pandas and then the modules named in ``import_meanwhile`` (the analysis
    that will use the frame), so a large file's parse and those imports overlap.
    """
    path = Path(path)
    parsed: list[object] = []
    # pyarrow's reader uses every core even beside the imports: once the Cox path stopped
    # importing scipy, a single parse thread became the longer of the two (1M rows on two
    # cores, 8 runs each: median 0.69 s with pyarrow's threads, 0.90 s with one)
    reader = threading.Thread(target=lambda: parsed.append(_arrow_table(path)), daemon=True)
    reader.start()
    import pandas as pd

    for module in import_meanwhile:
        importlib.import_module(module)

    reader.join()
    table = parsed[0] if parsed else None
    return _to_pandas(table) if table is not None else pd.read_csv(path)


def _arrow_table(path: Path) -> object | None:
    """The file as a pyarrow table typed as pandas would type it, or None (see module doc)."""
    try:
        import pyarrow as pa
        from pyarrow import csv
    except ImportError:
        return None
    convert = csv.ConvertOptions(null_values=list(NA_MARKERS), strings_can_be_null=True,
                                 quoted_strings_can_be_null=True, true_values=list(_TRUE),
                                 false_values=list(_FALSE))
    try:
        read = csv.ReadOptions(use_threads=True)
        table = csv.read_csv(path, read_options=read, convert_options=convert)
        names = table.column_names
        if len(set(names)) != len(names) or any(not n for n in names):
            return None  # pandas renames these (a.1, Unnamed: 0)
        temporal = [f.name for f in table.schema
                    if pa.types.is_temporal(f.type)]
        if temporal:  # pandas keeps dates and times as the text written
            convert.column_types = dict.fromkeys(temporal, pa.string())
            table = csv.read_csv(path, read_options=read, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, OSError):
        return None
    return table


def _to_pandas(table: object) -> pd.DataFrame:
    """pyarrow table → pandas frame with pandas' dtypes (NaN, not None, for missing cells)."""
    import numpy as np
    import pyarrow as pa

    # one block per column: pandas does not copy every column into one 2-D block (3-5x faster)
    frame = table.to_pandas(split_blocks=True)  # type: ignore[attr-defined]
    for field in table.schema:  # type: ignore[attr-defined]
        name = field.name
        if pa.types.is_null(field.type):
            frame[name] = np.full(len(frame), np.nan)
        elif pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            column = frame[name]
            if column.isna().any():
                frame[name] = column.where(column.notna(), np.nan)
        elif pa.types.is_boolean(field.type) and field.nullable and frame[name].dtype == object:
            column = frame[name]
            frame[name] = column.where(column.notna(), np.nan)
    return frame
