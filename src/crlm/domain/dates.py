"""Plausible dates: no clinical date before 1900, none in the future beyond a planning margin.

Two kinds of date:

- a **past date** records something that has happened (diagnosis, death, recurrence, last
  follow-up): between :data:`EARLIEST_PLAUSIBLE_DATE` and today;
- a **plannable date** may lie ahead (assessment, operation, treatment course): between
  :data:`EARLIEST_PLAUSIBLE_DATE` and today + :data:`PLANNING_MARGIN`.

"Today" is the clock of the machine that validates, so a record that is valid stays valid. The
patient model adds the relative rule (diagnosis on or before the assessment date).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

from pydantic import AfterValidator

EARLIEST_PLAUSIBLE_DATE = dt.date(1900, 1, 1)
#: How far ahead a planned procedure, course or assessment may be dated.
PLANNING_MARGIN = dt.timedelta(days=365)


def today() -> dt.date:
    """The validating machine's date (one function, so tests can pin it).

    Read again once a second at most: the local date costs a time-zone conversion, and a
    patient's validation asks for it about five times.
    """
    global _today
    second = int(time.time())
    if _today[0] != second:
        _today = (second, dt.date.fromtimestamp(second))
    return _today[1]


_today: tuple[int, dt.date] = (-1, dt.date.min)  # (the second it was read, the date)


def _not_too_early(value: dt.date) -> dt.date:
    if value < EARLIEST_PLAUSIBLE_DATE:
        raise ValueError(f"{value.isoformat()} is before {EARLIEST_PLAUSIBLE_DATE.isoformat()}, "
                         "the earliest plausible date")
    return value


def _past(value: dt.date) -> dt.date:
    now = today()
    if value > now:
        raise ValueError(f"{value.isoformat()} is in the future (today is {now.isoformat()})")
    return _not_too_early(value)


def _plannable(value: dt.date) -> dt.date:
    latest = today() + PLANNING_MARGIN
    if value > latest:
        raise ValueError(f"{value.isoformat()} is more than a year ahead (the latest plausible "
                         f"date for a planned procedure is {latest.isoformat()})")
    return _not_too_early(value)


PastDate = Annotated[dt.date, AfterValidator(_past)]
PlannableDate = Annotated[dt.date, AfterValidator(_plannable)]
