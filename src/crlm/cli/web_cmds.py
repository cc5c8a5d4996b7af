"""CLI adapter: web commands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the web commands to the main app."""
