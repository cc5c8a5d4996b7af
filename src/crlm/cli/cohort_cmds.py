"""CLI adapter: cohort commands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the cohort commands to the main app."""
