"""One list of survival origins: the analysis dataset, the analysis table, the web and the CLI."""

from __future__ import annotations

from typing import get_args

from crlm.registry.models import SURVIVAL_ORIGINS
from crlm.stats.defaults import SurvivalOrigin
from crlm.web.cohort import SurvivalOrigin as WebOrigin


def test_every_layer_knows_the_same_origins() -> None:
    origins = set(get_args(SurvivalOrigin))
    assert origins == set(SURVIVAL_ORIGINS) == {o.value for o in WebOrigin}
    assert len(origins) == len(SURVIVAL_ORIGINS) == len(WebOrigin)
