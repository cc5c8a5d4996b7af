"""CSV files in crlm's flat export format (column = dotted field path) for web import tests."""

from __future__ import annotations

import csv
import io
from typing import Any


def _flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out |= _flatten(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = str(value)
    return out


def csv_rows(patients: list[dict[str, Any]]) -> str:
    """CSV text with one row per patient dict (nested sections become dotted columns)."""
    rows = [_flatten(p) for p in patients]
    columns = sorted({c for r in rows for c in r})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
