"""Small helpers shared by the CLI adapters."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer


def fail_bad_input(message: str) -> NoReturn:
    """Print a bad-input message on stderr and exit with code 2."""
    typer.echo(f"crlm: invalid input:\n{message}", err=True)
    raise typer.Exit(code=2)


def fail_internal(message: str) -> NoReturn:
    """Print an internal-error message on stderr and exit with code 1."""
    print(f"crlm: internal error: {message}", file=sys.stderr)
    raise typer.Exit(code=1)
