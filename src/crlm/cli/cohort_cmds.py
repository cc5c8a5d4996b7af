"""CLI adapter: ``crlm synth`` (synthetic cohorts) and ``crlm demo`` (demo registry)."""

from __future__ import annotations

import itertools
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from crlm.cli._common import fail_bad_input
from crlm.safe_output import frame_to_csv

DEMO_CENTRE = "demo"
DEMO_BATCH = 1000  # patients validated and written per batch


class CohortKind(StrEnum):
    rectal = "rectal"
    tsh = "tsh"


def synth_cmd(
    kind: Annotated[CohortKind, typer.Argument(
        help="rectal: synchronous rectal LM after Maki 2023a (Maki 2023); tsh: two-stage "
             "hepatectomy after Shimizu 2024.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
    n: Annotated[int, typer.Option(help="Number of patients (10 to 1,000,000).")] = 274,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same cohort).")] = 0,
    centres: Annotated[int, typer.Option(
        help="rectal only: patients from this many centres (column centre; unequal sizes and "
             "case mix), also written one file per centre next to --out.")] = 1,
) -> None:
    """Write a synthetic cohort calibrated to a source paper's tables (one row per patient).

    No real patient data: distributions per group follow the published Table 1 and overall
    survival follows the published multivariable hazard ratios.

    Example:  crlm synth rectal --n 2740 --seed 1 --out cohort.csv
    """
    from crlm.synth import synthetic_rectal_cohort, synthetic_tsh_cohort

    if not 10 <= n <= 1_000_000:
        fail_bad_input("--n: must be between 10 and 1,000,000")
    if centres != 1:
        from crlm.synth import synthetic_multicentre_cohort

        if kind != CohortKind.rectal or not 2 <= centres <= 26:
            fail_bad_input("--centres: 2 to 26 centres, for the rectal cohort")
        frame = synthetic_multicentre_cohort(n, centres, seed)
        frame_to_csv(frame, out)
        for name, part in frame.groupby("centre"):
            path = out.with_name(f"{out.stem}_centre_{name}{out.suffix}")
            frame_to_csv(part, path)
            typer.echo(f"wrote centre {name}: {len(part)} patients → {path}")
        typer.echo(f"wrote {len(frame)} synthetic {kind.value} patients from {centres} "
                   f"centres → {out}")
        return
    make = synthetic_rectal_cohort if kind == CohortKind.rectal else synthetic_tsh_cohort
    frame = make(n, seed)
    frame_to_csv(frame, out)
    typer.echo(f"wrote {len(frame)} synthetic {kind.value} patients → {out}")


def demo_cmd(
    if_empty: Annotated[bool, typer.Option(
        "--if-empty",
        help="Only load the demo cohort when the registry has no patient yet.")] = False,
    db: Annotated[str | None, typer.Option(
        "--db", help="Database URL (default CRLM_DATABASE_URL or sqlite:///./crlm.db).")] = None,
    n: Annotated[int, typer.Option(help="Patients in the demo cohort.")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2023,
    csv: Annotated[Path | None, typer.Option(help="Also write the cohort to this CSV.")] = None,
) -> None:
    """Create the database, load a synthetic demo cohort, and create a demo admin.

    The admin's one-time password is printed once (only when no admin exists yet).
    Used by `make run`.
    """
    from rich.progress import Progress

    from crlm.registry import repository, users
    from crlm.registry.db import cyclic_gc_paused, database_url, init_db, make_session_factory
    from crlm.synth import synthetic_rectal_cohort, to_patients

    if not 1 <= n <= 100_000:
        fail_bad_input("--n: must be between 1 and 100,000")
    factory = make_session_factory(init_db(db))
    frame = synthetic_rectal_cohort(n, seed)
    if csv is not None:
        frame_to_csv(frame, csv)
        typer.echo(f"wrote demo cohort → {csv}")
    with factory() as session:
        existing = repository.count_patients(session)
        if if_empty and existing:
            typer.echo(f"registry already holds {existing} patients: demo cohort not loaded")
        else:
            # no cyclic collection while the cohort's objects are built: each one walked every
            # live object, a fifth of the load's time (reference counting frees them as usual)
            with Progress(transient=True, disable=not sys.stderr.isatty()) as bar, \
                    cyclic_gc_paused():
                task = bar.add_task("loading demo cohort", total=n)
                patients = to_patients(frame)  # validated and stored 1,000 at a time
                # an empty registry has nothing to update: no look-up of stored patients
                store = repository.save_patients if existing else repository.insert_patients
                while batch := list(itertools.islice(patients, DEMO_BATCH)):
                    store(session, batch, centre=DEMO_CENTRE, actor="crlm-demo")
                    bar.advance(task, len(batch))
            session.commit()
            typer.echo(f"loaded {n} synthetic patients (centre '{DEMO_CENTRE}') into "
                       f"{database_url(db)}")
        if not any(u.role == users.Role.admin for u in users.list_users(session)):
            import secrets

            password = secrets.token_urlsafe(12)
            users.add_user(session, "admin", password, users.Role.admin)
            session.commit()
            typer.echo("created the demo admin — note this one-time password, it is not "
                       f"stored in clear anywhere:\n  username: admin\n  password: {password}")


def analyze_cmd(
    config: Annotated[Path, typer.Option("--config", "-c", metavar="ANALYSIS.toml",
                                         help="What to analyse (see examples/maki2023.toml).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    cohort: Annotated[Path | None, typer.Argument(
        metavar="[COHORT.csv]", help="One row per patient (e.g. crlm synth output); not "
                                     "given for a federated study ([source] federated).")]
    = None,
) -> None:
    """Run a whole cohort analysis from a TOML config and write a publication-ready report.

    Writes report.html (self-contained), report.docx, every table as CSV, every figure in the
    configured formats (PNG, SVG, PDF, TIFF) at a journal column width and resolution
    ([figures]: single 89 mm or double 183 mm, 300 or 600 dpi), and provenance.json (crlm
    version, config and data hashes, row counts). Labels come from [labels]/[levels] and every
    p value follows p_style (nejm, lancet or apa). With [source] federated = ["a.csv", ...]
    (one file per centre) the report is computed from centre aggregates (docs/federated.md).

    Example:  crlm synth rectal --n 274 --seed 1 --out cohort.csv
              crlm analyze cohort.csv --config examples/maki2023.toml --out report/
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from crlm.reports.cohort_report import ConfigError, analyze, load_config
    from crlm.stats import StatsInputError

    if not config.is_file():
        fail_bad_input(f"--config: file not found: {config}")
    try:
        federated = bool(load_config(config).federated)
    except ConfigError as exc:
        fail_bad_input(str(exc))
    if cohort is None and not federated:
        fail_bad_input("COHORT: give the cohort CSV (or list the centres under [source] "
                       "federated in the config)")
    if cohort is not None and federated:
        fail_bad_input("COHORT: not used by a federated study — the config lists the centres")
    if cohort is not None and not cohort.is_file():
        fail_bad_input(f"COHORT: file not found: {cohort}")
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("analysing", total=None)
        step = lambda text: bar.update(task, description=text)  # noqa: E731
        try:
            if cohort is None:
                from crlm.federated.report import analyze_federated

                report = analyze_federated(config, out, progress=step)
            else:
                report = analyze(cohort, config, out, progress=step)
        except (ConfigError, StatsInputError) as exc:
            fail_bad_input(str(exc))
    typer.echo(f"report: {out / 'report.html'} ({len(report.files)} files, "
               f"{report.provenance['rows_analysed']} patients analysed)")


def register(app: typer.Typer) -> None:
    """Add the cohort commands to the main app."""
    app.command("synth")(synth_cmd)
    app.command("demo")(demo_cmd)
    app.command("analyze")(analyze_cmd)
