"""In-process nodes: the same partials on one DataFrame per centre (dry run, CLI, benchmark).

Each answer goes through JSON as it would between a vantage6 node and the server, so what the
central code sees is exactly what a node would send; bytes and time per node are recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import crlm.federated as algorithm


@dataclass
class NodeCost:
    """What one node spent and sent."""

    seconds: float = 0.0
    bytes_sent: int = 0
    requests: int = 0


@dataclass
class LocalNodes:
    """:class:`crlm.federated.central.Nodes` over in-memory centre datasets."""

    frames: list[pd.DataFrame]
    names: list[str] = field(default_factory=list)
    selection: list[dict[str, Any]] | None = None
    costs: list[NodeCost] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = self.names or [f"centre {i + 1}" for i in range(len(self.frames))]
        self.costs = [NodeCost() for _ in self.frames]

    def run(self, method: str, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        """Call ``method`` of the algorithm on every centre's frame; answers via JSON."""
        func = getattr(algorithm, method)
        if self.selection and method != "partial_count":
            kwargs = {**kwargs, "selection": self.selection}
        request = json.loads(json.dumps(kwargs))  # what the server would pass on
        answers = []
        for frame, cost in zip(self.frames, self.costs, strict=True):
            start = time.perf_counter()
            if getattr(func, "wrapped_in_data_decorator", False):  # vantage6's decorator
                answer = func(**request, mock_data=[frame])
            else:
                answer = func(frame, **request)
            text = json.dumps(answer)
            cost.seconds += time.perf_counter() - start
            cost.bytes_sent += len(text.encode("utf-8"))
            cost.requests += 1
            answers.append(json.loads(text))
        return answers


def read_centre(path: Path, origin: str = "last_hepatectomy") -> pd.DataFrame:
    """A centre's analysis dataset: a crlm registry database (``.db``, SQLite) or a CSV."""
    if path.suffix == ".db":
        from crlm.registry.dataset import analysis_dataset
        from crlm.registry.db import make_engine, make_session_factory

        engine = make_engine(f"sqlite:///{path}")
        try:
            with make_session_factory(engine)() as session:
                return analysis_dataset(session, origin, actor="federated dry run")  # type: ignore[arg-type]
        finally:
            engine.dispose()
    return pd.read_csv(path)


def local_nodes(paths: Sequence[Path], selection: list[dict[str, Any]] | None = None
                ) -> LocalNodes:
    """One in-process node per file."""
    return LocalNodes([read_centre(p) for p in paths], [p.stem for p in paths], selection)
