"""What may leave a node: aggregates only, every released count 0 or at least the threshold.

One threshold (``MIN_CELL``, 5 as most European registries' output rules) is applied at the
node; a count between 1 and ``min_cell − 1`` is either suppressed (Table 1, shown as "< 5") or
makes the node refuse the request (survival, regression), naming what was too small. Each node
logs what it released (stdlib :mod:`logging`, logger ``crlm.federated``) so that its data
manager can audit every answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from crlm.stats._data import StatsInputError
from crlm.stats.defaults import SMALL_CELL_MIN

MIN_CELL = SMALL_CELL_MIN  # smallest count a node releases (0 is released as 0)

log = logging.getLogger("crlm.federated")


class DisclosureError(StatsInputError):
    """The node will not release this answer: a count would fall under the threshold."""


def is_safe(count: float, min_cell: int) -> bool:
    """A count a node may release: 0, or at least ``min_cell``."""
    return count == 0 or count >= min_cell


def require_safe(what: str, counts: Iterable[float], min_cell: int) -> None:
    """Refuse (``DisclosureError``) when any of ``counts`` is between 1 and ``min_cell − 1``."""
    small = [c for c in counts if not is_safe(c, min_cell)]
    if small:
        raise DisclosureError(None, f"{what}: {len(small)} count(s) under {min_cell} — the "
                                    "node does not release them")


def suppress(count: int, min_cell: int) -> int | None:
    """The count, or None when it is under the threshold (Table 1 cells)."""
    return int(count) if is_safe(count, min_cell) else None


def released(method: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Log the whole answer a node is about to release and return it unchanged."""
    text = json.dumps(payload, sort_keys=True)
    log.info("released by %s (%d bytes): %s", method, len(text), text)
    return payload
