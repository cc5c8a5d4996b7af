"""CLI adapter: ``crlm audit verify`` — check the hash chain of the audit log."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from crlm.cli._common import fail_bad_input

audit_app = typer.Typer(help="The audit log: check that it has not been rewritten.",
                        no_args_is_help=True)

_EXPECT = re.compile(r"^(\d+):([0-9a-f]{64})$")


def _expected(values: list[str]) -> dict[int, str]:
    out: dict[int, str] = {}
    for value in values:
        match = _EXPECT.match(value.strip().lower())
        if match is None:
            fail_bad_input(f"--expect {value!r}: write ROW:HASH, e.g. 1234:<64 hex digits>")
        out[int(match.group(1))] = match.group(2)
    return out


def _chain_problem(engine) -> str | None:  # type: ignore[no-untyped-def]
    """Why the database cannot be verified at all (no log, no chain, no anchor), or None."""
    import sqlalchemy as sa

    inspector = sa.inspect(engine)
    if not inspector.has_table("audit_events"):
        return "there is no audit log in this database"
    if "row_hash" not in {c["name"] for c in inspector.get_columns("audit_events")}:
        return "the audit log has no hash chain yet: run crlm db migrate first"
    if not inspector.has_table("audit_chain_head"):
        return "the chain anchor (row count and last hash) is missing: it was dropped"
    return None


@audit_app.command("verify")
def verify(
    db: Annotated[str | None, typer.Option("--db", help="Database URL (overrides "
                                           "CRLM_DATABASE_URL).")] = None,
    expect: Annotated[list[str] | None, typer.Option(
        "--expect", help="ROW:HASH printed by an earlier verify and kept outside the database; "
        "the log must still have that row with that hash (repeatable).")] = None,
) -> None:
    """Walk the audit chain: exit 0 when intact, 2 naming the first broken row.

    Detects rows changed, deleted, inserted or replaced, and a log cut short or emptied; with
    --expect, also a log rewritten as a whole up to that row.
    """
    from crlm.registry.audit import verify as verify_chain
    from crlm.registry.db import make_engine, make_session_factory

    wanted = _expected(expect or [])
    engine = make_engine(db)
    try:
        problem = _chain_problem(engine)
        if problem is not None:
            typer.echo(f"crlm: audit log cannot be verified: {problem}", err=True)
            raise typer.Exit(code=2)
        with make_session_factory(engine)() as session:
            report = verify_chain(session, wanted)
    finally:
        engine.dispose()
    if not report.intact:
        typer.echo(f"crlm: audit log broken at row {report.first_bad_row}: {report.problem}",
                   err=True)
        raise typer.Exit(code=2)
    typer.echo(f"audit log intact: {report.rows} rows, the anchor agrees.")
    if report.rows:
        typer.echo(f"last row: {report.rows}:{report.last_hash}\n"
                   "Keep that line outside the database: verify --expect with it also detects "
                   "a log rewritten as a whole.")


def register(app: typer.Typer) -> None:
    """Add the ``audit`` group to the main app."""
    app.add_typer(audit_app, name="audit")
