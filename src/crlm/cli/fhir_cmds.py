"""CLI adapter: FHIR interchange commands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the FHIR interchange commands to the main app."""
