"""CLI adapter: ``crlm stats …`` — one analysis on a CSV file.

``stats_app`` is the shared ``stats`` command group; survival commands are defined here and the
table/regression commands in :mod:`crlm.cli.stats_tables_cmds`.
"""

from __future__ import annotations

import typer

stats_app = typer.Typer(
    help="One analysis on a CSV file (Kaplan–Meier, log-rank, RMST, Cox, logistic, Table 1, …).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``stats`` group to the main app."""
    app.add_typer(stats_app, name="stats")
