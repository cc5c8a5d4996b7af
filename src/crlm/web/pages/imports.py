"""Import page: upload a CSV or Excel file (a REDCap export with its project's Data
Dictionary too); either every row is stored or none, with a row-by-row report.

The upload is never held in memory: Starlette's form parser spools the file to a temporary
file on disk (beyond 1 MB) and the importer reads that file row by row. This route's body
limit, :data:`MAX_UPLOAD_BYTES` (plus multipart slack), is enforced while the body is read by
:mod:`crlm.web.limits` (413).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from crlm.web.pages.common import render, require_csrf
from crlm.web.pages.patients import Clinical
from crlm.web.records import import_csv_upload

router = APIRouter(include_in_schema=False)

MAX_UPLOAD_BYTES = 200_000_000  # this route's body limit (a 2 million-row CSV is ~25-100 MB)
MAX_DICTIONARY_BYTES = 10_000_000  # a REDCap Data Dictionary of 2,000 fields is ~1 MB


@router.get("/import")
def import_page(request: Request, user: Clinical) -> HTMLResponse:
    """The upload form."""
    return render(request, "import.html", user, result=None)


@router.post("/import", dependencies=[Depends(require_csrf)])
async def import_submit(request: Request, user: Clinical) -> HTMLResponse:
    """Import the uploaded file into the user's centre, or report every bad row."""
    from crlm.registry.importer import ImportResult, RowError

    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return render(request, "import.html", user, status_code=422, result=None,
                      messages=["Choose a CSV or Excel file to import."])
    dictionary, problem = await _dictionary(form.get("dictionary"))
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        problem = RowError(1, None, "(file)",
                           f"file is larger than {MAX_UPLOAD_BYTES // 1_000_000} MB")
    if problem is not None:
        result = ImportResult(ok=False, n_rows=0, errors=[problem])
    else:
        centre = form.get("centre")
        await upload.seek(0)
        result = await run_in_threadpool(
            import_csv_upload, request.app.state.session_factory, user, upload.filename,
            upload.file, centre.strip() if isinstance(centre, str) else None,
            replace=form.get("replace") == "yes", dictionary=dictionary,
            dag_centres=form.get("centre_from_dag") == "yes",
        )
    return render(
        request, "import.html", user, status_code=200 if result.ok else 422,
        result=result, filename=upload.filename,
    )


async def _dictionary(upload: object) -> tuple[Any, Any]:
    """The uploaded data dictionary (REDCap's Data Dictionary CSV or ``column,field``), or
    None when none was chosen; else the problem that makes it unusable."""
    from crlm.registry.dictionary import DataDictionary
    from crlm.registry.importer import RowError

    if not isinstance(upload, UploadFile) or not upload.filename:
        return None, None
    column = "(data dictionary)"
    await upload.seek(0)
    raw = await upload.read(MAX_DICTIONARY_BYTES + 1)
    if len(raw) > MAX_DICTIONARY_BYTES:
        limit = MAX_DICTIONARY_BYTES // 1_000_000
        return None, RowError(1, None, column, f"{upload.filename}: larger than {limit} MB; "
                              "a data dictionary is a small CSV file")
    try:
        text = raw.decode("utf-8-sig")
        return await run_in_threadpool(DataDictionary.from_csv, text), None
    except UnicodeDecodeError:
        return None, RowError(1, None, column, f"{upload.filename}: not UTF-8 text (save the "
                              "dictionary as CSV, UTF-8)")
    except ValueError as exc:
        return None, RowError(1, None, column, f"{upload.filename}: {exc}")
