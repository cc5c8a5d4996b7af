"""CLI adapter: ``crlm rules`` prints (or writes) the rule catalogue rendered from the code."""

from __future__ import annotations

from pathlib import Path

import typer

from crlm.cli._common import fail_bad_input

_SUFFIX_FORMAT = {".md": "markdown", ".json": "json", ".txt": "text"}


def rules(
    format: str | None = typer.Option(
        None, "--format", help="text | markdown | json (default: from --write suffix, else text)"
    ),
    write: Path | None = typer.Option(None, "--write", help="Write the catalogue to this file."),
) -> None:
    """The rule catalogue: every advice code, what triggers it and its evidence."""
    from crlm.clinical.rules.catalogue import FORMATS, render_catalogue

    fmt = format or (_SUFFIX_FORMAT.get(write.suffix.lower(), "text") if write else "text")
    if fmt not in FORMATS:
        fail_bad_input(f"--format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
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
