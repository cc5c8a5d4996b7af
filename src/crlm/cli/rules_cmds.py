"""CLI adapter: ``crlm rules`` prints (or writes) the rule catalogue rendered from the code."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from crlm.cli._common import fail_bad_input

_SUFFIX_FORMAT = {".md": "markdown", ".json": "json", ".txt": "text"}
#: the catalogue's formats (crlm.clinical.rules.catalogue.FORMATS, not imported at start-up;
#: tests/test_cli_startup.py keeps the two equal)
RulesFormat = Literal["text", "markdown", "json"]


def rules(
    format: RulesFormat | None = typer.Option(
        None, "--format", help="Output format (default: from the --write suffix, else text)."
    ),
    write: Path | None = typer.Option(None, "--write", help="Write the catalogue to this file."),
) -> None:
    """The rule catalogue: every advice code, what triggers it and its evidence."""
    from crlm.clinical.rules.catalogue import render_catalogue

    fmt = format or (_SUFFIX_FORMAT.get(write.suffix.lower(), "text") if write else "text")
    text = render_catalogue(fmt)  # type: ignore[arg-type]
    if write is None:
        typer.echo(text, nl=False)
        return
    try:
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail_bad_input(f"--write: cannot write {write}: {exc.strerror}")
    typer.echo(f"wrote {write}")


def register(app: typer.Typer) -> None:
    """Add the rules commands to the main app."""
    app.command("rules")(rules)
