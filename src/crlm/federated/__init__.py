"""``crlm.federated``: a vantage6 algorithm for multi-centre studies without pooling data.

vantage6 (IKNL) sends the analysis to each centre's node; the node runs a *partial* function
on its own analysis dataset (``crlm db export --analysis``) and returns aggregates only. A
*central* function, itself run as a task, creates the subtasks, adds the answers and iterates.
This module is the algorithm package (``PKG_NAME=crlm.federated`` in the image): vantage6's
wrapper calls the function named in the task input's ``method``.

- Partials (``@data(1)``: the node's DataFrame comes first): ``partial_levels``,
  ``partial_cox``, ``partial_logistic``, ``partial_km``, ``partial_event_times``,
  ``partial_logrank``, ``partial_table1``, ``partial_moments``, ``partial_count``.
- Central (``@algorithm_client``): ``central_cox``, ``central_logistic``, ``central_km``,
  ``central_logrank``, ``central_table1``.

Every partial accepts ``selection`` (the report's include/exclude steps) applied at the node
first. Without vantage6-algorithm-tools installed the decorators are inert, so the CLI dry run
(:mod:`crlm.federated.local`) works in a plain crlm install.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from crlm.federated import central, partials
from crlm.federated._disclosure import MIN_CELL, DisclosureError

try:
    from vantage6.algorithm.tools.decorators import algorithm_client, data
except ImportError:  # no vantage6: plain functions (local dry run)
    def algorithm_client(func: Callable[..., Any]) -> Callable[..., Any]:  # type: ignore[no-redef]
        """Inert stand-in for vantage6's decorator (vantage6 not installed)."""
        return func

    def data(number_of_databases: int = 1) -> Callable[..., Any]:  # type: ignore[no-redef]
        """Inert stand-in for vantage6's decorator (vantage6 not installed)."""
        return lambda func: func

__all__ = ["MIN_CELL", "DisclosureError", "VantageNodes", "select"]


def select(df: pd.DataFrame, selection: Sequence[Mapping[str, Any]] | None) -> pd.DataFrame:
    """Rows kept by the report's include/exclude steps (``{"filter": {...}, "include": bool}``)."""
    if not selection:
        return df
    from crlm.reports.analysis_config import Filter, row_mask

    for step in selection:
        keep = row_mask(df, Filter.model_validate(step["filter"]))
        df = df[keep if step["include"] else ~keep]
    return df


# ------------------------------------------------------------------------------ partials


@data(1)
def partial_levels(df: pd.DataFrame, selection: list | None = None, **kw: Any) -> dict:
    """Numeric or categorical, and the level names, of each column (no counts)."""
    return partials.levels_partial(select(df, selection), **kw)


@data(1)
def partial_cox(df: pd.DataFrame, selection: list | None = None, **kw: Any) -> dict:
    """This centre's Cox log-likelihood, score and information at the given coefficients."""
    return partials.cox_partial(select(df, selection), **kw)


@data(1)
def partial_logistic(df: pd.DataFrame, selection: list | None = None, **kw: Any) -> dict:
    """This centre's logistic log-likelihood, gradient and information."""
    return partials.logistic_partial(select(df, selection), **kw)


@data(1)
def partial_km(df: pd.DataFrame, selection: list | None = None, **kw: Any) -> dict:
    """Numbers at risk and events per group at the shared time points."""
    return partials.km_partial(select(df, selection), **kw)


@data(1)
def partial_event_times(df: pd.DataFrame, selection: list | None = None, **kw: Any) -> dict:
    """Exact event times, only when each has enough events."""
    return partials.event_times_partial(select(df, selection), **kw)


@data(1)
def partial_logrank(df: pd.DataFrame, selection: list | None = None, **kw: Any) -> dict:
    """This centre's log-rank stratum: O − E and variance."""
    return partials.logrank_partial(select(df, selection), **kw)


@data(1)
def partial_table1(df: pd.DataFrame, selection: list | None = None, **kw: Any) -> dict:
    """Counts, sums, sums of squares and histograms by group (small cells suppressed)."""
    return partials.table1_partial(select(df, selection), **kw)


@data(1)
def partial_moments(df: pd.DataFrame, selection: list | None = None, **kw: Any) -> dict:
    """n, sum and sum of squares of numeric columns."""
    return partials.moments_partial(select(df, selection), **kw)


@data(1)
def partial_count(df: pd.DataFrame, **kw: Any) -> dict:
    """Patients left after each selection step."""
    return partials.count_partial(df, **kw)


# ------------------------------------------------------------------------------ central


class VantageNodes:
    """:class:`crlm.federated.central.Nodes` over a vantage6 (or mock) algorithm client:
    one subtask per request to every organisation of the collaboration."""

    def __init__(self, client: Any, organizations: Sequence[int] | None = None,
                 selection: list | None = None) -> None:
        self.client = client
        self.organizations = list(organizations or [o["id"] for o in client.organization.list()])
        self.selection = selection

    def run(self, method: str, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        """Create the subtask, wait, and return the answers."""
        if self.selection and method != "partial_count":
            kwargs = {**kwargs, "selection": self.selection}
        task = self.client.task.create(input_={"method": method, "kwargs": kwargs},
                                       organizations=self.organizations,
                                       name=f"crlm {method}", description="crlm.federated")
        return self.client.wait_for_results(task_id=task.get("id"))


def _nodes(client: Any, organizations: Sequence[int] | None, selection: list | None
           ) -> VantageNodes:
    return VantageNodes(client, organizations, selection)


@algorithm_client
def central_cox(client: Any, time: str, event: str, covariates: list[str],
                organizations: list[int] | None = None, selection: list | None = None,
                **kw: Any) -> dict:
    """Cox model stratified by centre; returns crlm's Cox JSON."""
    trace = central.NewtonTrace()
    fit = central.federated_cox(_nodes(client, organizations, selection), time, event,
                                covariates, trace=trace, **kw)
    out = fit.to_dict()
    out.pop("concordance", None)
    out.pop("concordance_se", None)
    out["iterations"] = trace.iterations
    return out


@algorithm_client
def central_logistic(client: Any, outcome: str, covariates: list[str],
                     organizations: list[int] | None = None, selection: list | None = None,
                     **kw: Any) -> dict:
    """Logistic regression on all centres' rows; returns crlm's logistic JSON."""
    return central.federated_logistic(_nodes(client, organizations, selection), outcome,
                                      covariates, **kw).to_dict()


@algorithm_client
def central_logrank(client: Any, time: str, event: str, group: str,
                    organizations: list[int] | None = None, selection: list | None = None,
                    **kw: Any) -> dict:
    """Log-rank test stratified by centre."""
    return central.federated_logrank(_nodes(client, organizations, selection), time, event,
                                     group, **kw).to_dict()


@algorithm_client
def central_km(client: Any, time: str, event: str, group: str | None = None,
               times: list[float] | None = None, organizations: list[int] | None = None,
               selection: list | None = None, **kw: Any) -> dict:
    """Kaplan–Meier by group at shared time bins (or exact times); survival at ``times``."""
    km = central.federated_km(_nodes(client, organizations, selection), time, event, group,
                              **kw)
    out = km.result.to_dict(times or [])
    out.update({"points": km.points, "binned": km.binned, "bin_width": km.bin_width,
                "horizon": km.horizon, "note": km.note})
    return out


@algorithm_client
def central_table1(client: Any, group: str, organizations: list[int] | None = None,
                   selection: list | None = None, **kw: Any) -> dict:
    """Table 1 by group from centre aggregates."""
    t = central.federated_table1(_nodes(client, organizations, selection), group, **kw)
    return {"table": t.frame.to_dict(orient="records"), "footnotes": t.footnotes,
            "sizes": t.sizes}
