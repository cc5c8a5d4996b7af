"""CLI adapter: clinical commands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the clinical commands to the main app."""
