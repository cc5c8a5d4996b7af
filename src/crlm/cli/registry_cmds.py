"""CLI adapter: registry commands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the registry commands to the main app."""
