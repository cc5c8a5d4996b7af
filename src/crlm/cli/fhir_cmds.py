"""CLI adapter: ``crlm fhir export|import`` (HL7 FHIR R4 with mCODE STU4 profiles)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from crlm.cli._common import fail_bad_input

fhir_app = typer.Typer(help="Exchange patients as HL7 FHIR R4 Bundles (mCODE profiles).",
                       no_args_is_help=True)


def _write(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text)
    else:
        from crlm.safe_output import atomic_write

        with atomic_write(out, private=True) as fh:
            fh.write(text + "\n")
        typer.echo(f"wrote {out}")


@fhir_app.command("export")
def fhir_export(
    patient_file: Annotated[Path, typer.Argument(metavar="PATIENT.json")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Bundle file (else stdout).")]
    = None,
) -> None:
    """Write a patient as a FHIR collection Bundle (lossless: `crlm fhir import` reads it back)."""
    from pydantic import ValidationError

    from crlm.domain import format_validation_error, parse_patient
    from crlm.registry.fhir import patient_to_fhir

    try:
        patient = parse_patient(patient_file.read_text(encoding="utf-8"))
    except OSError as exc:
        fail_bad_input(f"{patient_file}: {exc.strerror}")
    except ValidationError as exc:
        fail_bad_input(format_validation_error(exc))
    except ValueError as exc:
        fail_bad_input(f"{patient_file}: {exc}")
    _write(json.dumps(patient_to_fhir(patient), indent=2, ensure_ascii=False), out)


@fhir_app.command("import")
def fhir_import(
    bundle_file: Annotated[Path, typer.Argument(metavar="BUNDLE.json")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Patient JSON (else stdout).")]
    = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Refuse the bundle if anything in it would be ignored.")] = False,
) -> None:
    """Read a FHIR Bundle (crlm's, or an mCODE bundle from another system) into patient JSON.

    What crlm does not record is listed on stderr as ignored; a value it cannot accept exits 2
    naming the element.
    """
    from crlm.registry.fhir import FhirImportError
    from crlm.registry.fhir_read import read_bundle

    try:
        bundle = json.loads(bundle_file.read_text(encoding="utf-8"))
        reading = read_bundle(bundle)
    except OSError as exc:
        fail_bad_input(f"{bundle_file}: {exc.strerror}")
    except json.JSONDecodeError as exc:
        fail_bad_input(f"{bundle_file}: not valid JSON: {exc.msg}")
    except UnicodeDecodeError:
        fail_bad_input(f"{bundle_file}: not UTF-8 text")
    except RecursionError:
        fail_bad_input(f"{bundle_file}: JSON nested too deeply")
    except FhirImportError as exc:
        fail_bad_input(str(exc))
    if reading.ignored:
        if strict:
            fail_bad_input("\n".join(["not read (--strict):", *reading.ignored]))
        typer.echo(f"{len(reading.ignored)} items ignored (crlm does not record them):",
                   err=True)
        for line in reading.ignored:
            typer.echo(f"  {line}", err=True)
    _write(reading.patient.model_dump_json(indent=2, exclude_none=True), out)


def register(app: typer.Typer) -> None:
    """Add the ``fhir`` group to the main app."""
    app.add_typer(fhir_app, name="fhir")
