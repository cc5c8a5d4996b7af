"""CLI adapter: ``crlm db …`` (registry) and ``crlm user …`` (accounts)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from crlm.cli._common import fail_bad_input
from crlm.registry.deid_level import LEVEL_TITLES, DeidLevel
from crlm.stats.defaults import SurvivalOrigin

db_app = typer.Typer(
    help="The CRLM registry: create/migrate the database, import and export patients.\n\n"
    "The database is CRLM_DATABASE_URL, else sqlite:///./crlm.db (PostgreSQL: "
    "postgresql+psycopg://user@host/db).",
    no_args_is_help=True,
)
user_app = typer.Typer(
    help="User accounts (roles: clinician, researcher, admin).", no_args_is_help=True
)

DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (overrides CRLM_DATABASE_URL).")
]
ActorOption = Annotated[str, typer.Option("--actor", help="Name written to the audit log.")]


def _session(url: str | None):  # type: ignore[no-untyped-def]
    from crlm.registry.db import init_db, make_session_factory

    return make_session_factory(init_db(url))()


@db_app.command("init")
def db_init(db: DbOption = None) -> None:
    """Create the database (or bring it to the newest schema)."""
    from crlm.registry import analysis
    from crlm.registry.db import current_revision, database_url, init_db, make_session_factory

    engine = init_db(db)
    with make_session_factory(engine)() as session:
        refreshed = analysis.refresh(session)
        session.commit()
    typer.echo(f"database ready: {database_url(db)} (schema {current_revision(engine)})"
               + (f"; analysis table: {refreshed} patients computed" if refreshed else ""))


@db_app.command("migrate")
def db_migrate(db: DbOption = None) -> None:
    """Apply pending schema migrations (Alembic) — safe to run at any time."""
    db_init(db)


def _redcap_token(token_file: Path | None) -> str:
    """The REDCap API token from --token-file (never a command-line argument)."""
    if token_file is None:
        fail_bad_input("--token-file: give the file holding the REDCap API token")
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        fail_bad_input(f"--token-file: {token_file}: {getattr(exc, 'strerror', None) or exc}")
    if token_file.stat().st_mode & 0o077:
        typer.echo(f"warning: {token_file} is readable by other users; an API token should be "
                   "readable by its owner only (chmod 600)", err=True)
    return token


def _pull_redcap(url: str, token_file: Path | None):  # type: ignore[no-untyped-def]
    """(records CSV, mapping from the project's metadata, source name) from a REDCap API."""
    from crlm.registry import redcap

    token = _redcap_token(token_file)
    try:
        pulled = redcap.pull(url, token)
        mapping = pulled.mapping()
    except ValueError as exc:
        fail_bad_input(f"--redcap-url: {exc}")
    name = f"REDCap project {pulled.title!r}" if pulled.title else f"REDCap {url}"
    return pulled.records_csv, mapping, name


@db_app.command("rebuild-analysis")
def db_rebuild_analysis(db: DbOption = None) -> None:
    """Recompute the analysis table (one row per patient read by the cohort views) from the
    patient records: after restoring a backup written by another tool, or after an upgrade
    that changed how a variable is derived."""
    from crlm.registry import analysis

    with _session(db) as session:
        n = analysis.rebuild(session)
        session.commit()
    typer.echo(f"analysis table rebuilt: {n} patients")


@db_app.command("import")
def db_import(
    file: Annotated[
        Path | None,
        typer.Argument(help="CSV or Excel (.xlsx) file; REDCap exports too. Not with "
                            "--redcap-url."),
    ] = None,
    centre: Annotated[str, typer.Option(help="Centre the patients belong to.")] = "",
    dictionary: Annotated[
        Path | None,
        typer.Option(help="Data dictionary CSV: column,field, or a REDCap Data Dictionary "
                          "as REDCap writes it. Default: crlm's own export format."),
    ] = None,
    redcap_url: Annotated[
        str | None,
        typer.Option(help="Pull records and data dictionary from this REDCap API "
                          "(https://…/api/) instead of reading a file."),
    ] = None,
    token_file: Annotated[
        Path | None, typer.Option(help="File holding the REDCap API token (--redcap-url).")
    ] = None,
    centre_from_dag: Annotated[
        bool,
        typer.Option(help="REDCap: a record in a data access group goes to the centre named "
                          "like the group (unique group name); the others to --centre."),
    ] = False,
    errors: Annotated[
        Path | None, typer.Option(help="Write the row-by-row error report here (CSV).")
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(help="Make each row the patient's whole record: stored fields whose "
                          "column the file lacks are cleared (default: kept)."),
    ] = False,
    db: DbOption = None,
    actor: ActorOption = os.environ.get("USER", "cli"),
) -> None:
    """Import patients: every row is validated first; either all land or none does.

    Re-importing updates the patients (matched on centre + id), never duplicates: only the
    fields whose columns the file has are changed, unless --replace. The import gets an id
    (printed) that `crlm db undo-import` takes. Exit 2 with a row-by-row report when any row
    is invalid.
    """
    from rich.progress import Progress

    from crlm.registry.dictionary import DataDictionary
    from crlm.registry.importer import import_file, iter_error_lines

    if not centre.strip():
        fail_bad_input("--centre: say which centre the patients belong to")
    if (file is None) == (redcap_url is None):
        fail_bad_input("file: give a file to import, or --redcap-url (not both)")
    if token_file is not None and redcap_url is None:
        fail_bad_input("--token-file: only used with --redcap-url")
    if file is not None and not file.is_file():
        fail_bad_input(f"file: {file} does not exist")
    try:
        mapping = DataDictionary.from_csv(dictionary) if dictionary else None
    except ValueError as exc:
        fail_bad_input(f"{dictionary}: {exc}")
    source: Path | bytes
    if redcap_url is not None:
        source, pulled_mapping, name = _pull_redcap(redcap_url, token_file)
        mapping = mapping or pulled_mapping
    else:
        assert file is not None
        source, name = file, file.name
    with _session(db) as session, Progress(transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(f"importing {name}", total=None)
        result = import_file(
            session,
            source,
            centre=centre,
            actor=actor,
            fmt=None if isinstance(source, Path) else "csv",
            dictionary=mapping,
            source_name=name,
            replace=replace,
            progress=lambda n: bar.advance(task, n),
            dag_centres=centre_from_dag,
        )
        if not result.ok:
            session.rollback()
            if errors:
                errors.write_text(result.errors_csv(), encoding="utf-8")
            lines = list(iter_error_lines(result))
            shown = "\n".join(lines[:50]) + (
                f"\n… {result.n_errors - 50} more" if result.n_errors > 50 else ""
            )
            fail_bad_input(f"{name}: nothing imported, {result.n_errors} problem(s):\n{shown}")
        session.commit()
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    where = (f" into centres {', '.join(result.centres)}" if len(result.centres) > 1 else "")
    typer.echo(f"imported {result.summary()} from {name}{where}; import id "
               f"{result.import_id} (undo: crlm db undo-import {result.import_id})")


@db_app.command("undo-import")
def db_undo_import(
    import_id: Annotated[str, typer.Argument(help="The id `crlm db import` printed.")],
    db: DbOption = None,
    actor: ActorOption = os.environ.get("USER", "cli"),
) -> None:
    """Undo an import: restore the values it changed, delete the patients it created.

    Refused (exit 2, nothing changed) if a patient the import wrote has changed since; the
    message names them.
    """
    from crlm.registry.undo import UndoError, undo_import

    with _session(db) as session:
        try:
            result = undo_import(session, import_id, actor=actor)
        except UndoError as exc:
            session.rollback()
            fail_bad_input(str(exc))
        session.commit()
    typer.echo(f"undid import {import_id}: {result.n_restored} patients restored, "
               f"{result.n_deleted} created patients deleted")


def _deid_secret(secret_file: Path | None) -> bytes:
    """The project's de-identification key: --secret-file, else CRLM_DEID_SECRET (≥ 16 bytes)."""
    secret = b""
    if secret_file is not None:
        try:
            secret = secret_file.read_bytes().strip()
        except OSError as exc:
            fail_bad_input(f"--secret-file: {secret_file}: {exc.strerror}")
        if secret_file.stat().st_mode & 0o077:
            typer.echo(f"warning: {secret_file} is readable by other users; the key should be "
                       "readable by the data steward only (chmod 600)", err=True)
    elif os.environ.get("CRLM_DEID_SECRET"):
        secret = os.environ["CRLM_DEID_SECRET"].encode()
    if len(secret) < 16:
        fail_bad_input("secret: give --secret-file or CRLM_DEID_SECRET (≥ 16 characters)")
    return secret


@db_app.command("export")
def db_export(
    out: Annotated[
        Path | None, typer.Argument(help="Output file (.csv flat, .jsonl one patient a line).")
    ] = None,
    deidentify: Annotated[
        DeidLevel | None,
        typer.Option(help="De-identify: safe-harbor = HIPAA Safe Harbor (pseudonyms, years "
                     "only, ages 90+, no free text); limited = a limited data set (pseudonyms, "
                     "dates shifted per patient, ages 90+, no free text), not Safe Harbor."),
    ] = None,
    deidentified: Annotated[
        bool, typer.Option(help="Same as --deidentify safe-harbor.")
    ] = False,
    secret_file: Annotated[
        Path | None, typer.Option(help="Key for pseudonyms/date shifts (else CRLM_DEID_SECRET).")
    ] = None,
    analysis: Annotated[
        bool, typer.Option(help="Write the analysis dataset (one row per patient, .csv).")
    ] = False,
    origin: Annotated[
        SurvivalOrigin, typer.Option(help="Survival origin for --analysis.")
    ] = "last_hepatectomy",
    centre: Annotated[str | None, typer.Option(help="Only this centre.")] = None,
    redcap_dictionary: Annotated[
        Path | None,
        typer.Option(help="Write crlm's fields as a REDCap Data Dictionary (.csv) that a REDCap "
                          "project can be created from (no patient data)."),
    ] = None,
    db: DbOption = None,
    actor: ActorOption = os.environ.get("USER", "cli"),
) -> None:
    """Export the registry (full, de-identified, or as an analysis dataset), or crlm's REDCap
    Data Dictionary.

    The file appears only when the export is complete (written beside it, then renamed).
    """
    from crlm.registry import export
    from crlm.safe_output import atomic_write, frame_csv_text

    if redcap_dictionary is not None:
        _write_redcap_dictionary(redcap_dictionary)
        if out is None:
            return
    if out is None:
        fail_bad_input("out: give the output file (or --redcap-dictionary FILE)")

    if out.suffix not in {".csv", ".jsonl"} or (analysis and out.suffix != ".csv"):
        fail_bad_input(f"out: {out.name} must end in .csv" + ("" if analysis else " or .jsonl"))
    if not out.parent.is_dir():
        fail_bad_input(f"out: the folder {out.parent} does not exist")
    if deidentified and deidentify not in (None, DeidLevel.safe_harbor):
        fail_bad_input("--deidentified means --deidentify safe-harbor; give only one of them")
    level = DeidLevel.safe_harbor if deidentified else deidentify
    if secret_file is not None and level is None:
        fail_bad_input("--secret-file: only used with --deidentify safe-harbor|limited")
    secret = _deid_secret(secret_file) if level else None
    done = f" (de-identified: {LEVEL_TITLES[level]})" if level else ""
    with _session(db) as session, atomic_write(out, newline="", private=True) as fh:
        # written as read, chunk by chunk; the audit rows are committed before the file
        # appears under its name (atomic_write renames it when this block ends)
        if analysis:
            from crlm.registry.dataset import iter_analysis_frames

            n = 0
            for i, frame in enumerate(iter_analysis_frames(
                    session, origin, actor=actor, centre=centre,
                    secret=secret, level=level)):
                fh.write(frame_csv_text(frame, header=i == 0))
                n += len(frame)
            session.commit()
            typer.echo(f"wrote analysis dataset: {n} patients → {out}{done}")
            return
        records = export.iter_records(
            session, actor=actor, centre=centre,
            purpose=f"de-identified export ({level.value})" if level else "export")
        n = export.write_records(fh, records, "jsonl" if out.suffix == ".jsonl" else "csv",
                                 secret=secret, level=level)
        session.commit()
    typer.echo(f"exported {n} patients → {out}{done}")


def _write_redcap_dictionary(path: Path) -> None:
    from crlm.registry.redcap import REPEATING_FORMS, data_dictionary_csv
    from crlm.safe_output import atomic_write

    if path.suffix.lower() != ".csv":
        fail_bad_input(f"--redcap-dictionary: {path.name} must end in .csv")
    if not path.parent.is_dir():
        fail_bad_input(f"--redcap-dictionary: the folder {path.parent} does not exist")
    with atomic_write(path, newline="") as fh:
        fh.write(data_dictionary_csv())
    typer.echo(f"wrote REDCap Data Dictionary → {path}; in REDCap make the instruments "
               f"{', '.join(REPEATING_FORMS)} repeating")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="clinician, researcher or admin.")],
    centre: Annotated[str | None, typer.Option(help="Centre (required for clinicians).")] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input (for scripts).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Create a user; the password (≥ 12 characters) is prompted for, never an argument."""
    from crlm.registry.users import UserError, add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        import getpass

        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            fail_bad_input("password: the two entries differ")
    with _session(db) as session:
        try:
            add_user(session, username, password, role, centre)
        except UserError as exc:
            fail_bad_input(str(exc))
        session.commit()
    typer.echo(f"user {username} ({role}) created")


def register(app: typer.Typer) -> None:
    """Add the ``db`` and ``user`` groups to the main app."""
    app.add_typer(db_app, name="db")
    app.add_typer(user_app, name="user")
