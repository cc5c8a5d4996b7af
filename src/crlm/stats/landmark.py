"""Landmark analysis: survival from a landmark time among patients still at risk then.

Avoids immortal-time bias when a grouping (response, completion of a strategy, adjuvant
therapy) is only known some time after the origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from crlm.stats._data import StatsInputError, complete_cases, survival_outcome


@dataclass(frozen=True)
class Landmark:
    data: pd.DataFrame  # rows at risk at the landmark, time reset to time − landmark
    landmark: float
    n_input: int
    n_event_before: int
    n_censored_before: int


def landmark_dataset(df: pd.DataFrame, time: str, event: str, landmark: float) -> Landmark:
    """Keep patients whose follow-up exceeds ``landmark``; their time restarts at the landmark."""
    if landmark <= 0:
        raise StatsInputError(None, "the landmark time must be > 0")
    used, _dropped = complete_cases(df, [time, event])
    t, e = survival_outcome(used, time, event)
    keep = t > landmark
    before = ~keep
    data = used.loc[keep].copy()
    data[time] = t[keep] - landmark
    return Landmark(data, landmark, len(used), int((before & (e == 1)).sum()),
                    int((before & (e == 0)).sum()))
