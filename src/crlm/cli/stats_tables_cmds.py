"""CLI adapter: table and regression commands of ``crlm stats`` (Table 1, logistic, ROC, …)."""

from __future__ import annotations

import typer

from crlm.cli.stats_cmds import stats_app  # noqa: F401  (commands are added to this group)


def register(app: typer.Typer) -> None:
    """Commands attach to ``stats_app`` at import; nothing else to add."""
