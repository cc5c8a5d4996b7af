"""The two de-identification levels of an export (kept apart so the CLI loads it cheaply)."""

from __future__ import annotations

from enum import StrEnum


class DeidLevel(StrEnum):
    """How far an export is de-identified (docs/deidentification.md)."""

    safe_harbor = "safe-harbor"
    limited = "limited"


LEVEL_TITLES = {
    DeidLevel.safe_harbor: "HIPAA Safe Harbor",
    DeidLevel.limited: "limited data set (dates shifted; not Safe Harbor)",
}
