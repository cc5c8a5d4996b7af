"""CLI adapter: ``crlm assess``, ``crlm schema``, ``crlm evidence``."""

from __future__ import annotations

import datetime as dt
import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from crlm.cli._common import fail_bad_input
from crlm.clinical.formulas import BsaMethod, TlvFormula


class AssessFormat(StrEnum):
    json = "json"
    markdown = "markdown"
    html = "html"
    pdf = "pdf"


class EvidenceFormat(StrEnum):
    text = "text"
    json = "json"
    bibtex = "bibtex"


def load_contour_model(path: str | None):  # type: ignore[no-untyped-def]
    """The contour model named by ``path`` (or CRLM_CONTOUR_MODEL); None when not configured."""
    from pydantic import ValidationError

    from crlm.clinical.scores import ContourModel

    path = path or os.environ.get("CRLM_CONTOUR_MODEL")
    if not path:
        return None
    try:
        return ContourModel.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        fail_bad_input(f"contour model: cannot read {path}: {exc.strerror}")
    except ValidationError as exc:
        from crlm.domain import format_validation_error

        fail_bad_input(f"contour model {path}:\n{format_validation_error(exc)}")


def assess_cmd(
    patient_file: Annotated[Path, typer.Argument(help="Patient JSON (see `crlm schema patient`).",
                                                 metavar="PATIENT.json")],
    fmt: Annotated[AssessFormat, typer.Option("--format", "-f",
                                              help="json (machine), markdown, html (print) or "
                                              "pdf (A4, needs --out).")]
    = AssessFormat.json,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write to this file instead of standard output (required for pdf).",
        metavar="FILE")] = None,
    centre: Annotated[str | None, typer.Option(help="Centre shown in the document header.")]
    = None,
    meeting_date: Annotated[str | None, typer.Option(
        help="MDT meeting date (YYYY-MM-DD) for the header; default the assessment date.")]
    = None,
    contour_model: Annotated[str | None, typer.Option(
        help="Contour model file (else CRLM_CONTOUR_MODEL).")] = None,
    bsa: Annotated[BsaMethod, typer.Option(help="BSA formula.")] = "mosteller",
    tlv: Annotated[TlvFormula, typer.Option(
        help="Standardized TLV formula: from BSA, or from body weight.")] = "bsa",
) -> None:
    """Assess one patient: every published score side by side, liver volumetry, hepatectomy
    complexity, and the MDT advice with its reason and evidence.

    Unknown inputs stay unknown: a score that needs them says which fields are missing and the
    range of totals still possible. Exit 2 when the input is invalid (the message names the
    field), 1 on an internal error.

    Example:  crlm assess examples/synchronous_rectal.json --format markdown
    """
    from pydantic import ValidationError

    from crlm.clinical.assess import assess
    from crlm.domain import format_validation_error, parse_patient
    from crlm.reports.tumour_board import Header, render, render_pdf

    try:
        text = patient_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail_bad_input(f"{patient_file}: cannot read: {exc}")
    try:
        patient = parse_patient(text)
    except ValidationError as exc:
        fail_bad_input(format_validation_error(exc))
    except ValueError as exc:
        fail_bad_input(f"{patient_file}: {exc}")
    assessment = assess(patient, contour_model=load_contour_model(contour_model),
                        bsa_method=bsa, tlv_formula=tlv)
    if fmt == AssessFormat.pdf and out is None:
        fail_bad_input("--format pdf writes a file: give --out FILE.pdf")
    try:
        meeting = dt.date.fromisoformat(meeting_date) if meeting_date else patient.assessment_date
    except ValueError:
        fail_bad_input(f"--meeting-date: {meeting_date!r} is not a date (YYYY-MM-DD)")
    header = Header(patient=patient.id or patient_file.stem, centre=centre, meeting_date=meeting)
    if fmt == AssessFormat.json:
        text = assessment.model_dump_json(indent=2)
    elif fmt == AssessFormat.pdf:
        assert out is not None
        write_atomically(out, render_pdf(assessment, patient, header))
        return
    else:
        text = render(assessment, patient, fmt.value, header)
    if out is None:
        typer.echo(text)
    else:
        write_atomically(out, (text + "\n").encode("utf-8"))


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it: never a partial file."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        fail_bad_input(f"{path}: cannot write: {exc.strerror}")


def schema_cmd(
    what: Annotated[str, typer.Argument(help="patient or assessment")] = "patient",
) -> None:
    """Print the JSON Schema of the patient input (or of the assessment output)."""
    from crlm.clinical.assess import Assessment
    from crlm.domain import Patient

    models = {"patient": Patient, "assessment": Assessment}
    if what not in models:
        fail_bad_input(f"schema: {what!r} is not one of {', '.join(models)}")
    typer.echo(json.dumps(models[what].model_json_schema(), indent=2, ensure_ascii=False))


def evidence_cmd(
    fmt: Annotated[EvidenceFormat, typer.Option("--format", "-f")] = EvidenceFormat.text,
) -> None:
    """List the bibliography every score and advice item cites (key → citation, DOI)."""
    from crlm.evidence import BIBLIOGRAPHY

    refs = list(BIBLIOGRAPHY.values())
    if fmt == EvidenceFormat.json:
        typer.echo(json.dumps([r.to_dict() for r in refs], indent=2, ensure_ascii=False))
    elif fmt == EvidenceFormat.bibtex:
        for r in refs:
            fields = {"journal": r.journal}
            if r.authors:
                fields["author"] = r.authors.replace(", ", " and ")
            if r.title:
                fields["title"] = r.title
            if r.year:
                fields["year"] = str(r.year)
            if r.doi:
                fields["doi"] = r.doi
            if r.note:
                fields["note"] = r.note
            body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items())
            typer.echo(f"@article{{{r.key},\n{body}\n}}\n")
    else:
        for r in refs:
            typer.echo(f"{r.short}\n  {r.citation()}")
            if r.note:
                typer.echo(f"  note: {r.note}")


def register(app: typer.Typer) -> None:
    """Add the clinical commands to the main app."""
    app.command("assess")(assess_cmd)
    app.command("schema")(schema_cmd)
    app.command("evidence")(evidence_cmd)
