"""CLI adapter: stats commands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the stats commands to the main app."""
