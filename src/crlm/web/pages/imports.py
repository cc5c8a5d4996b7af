"""Import page: upload a CSV or Excel file; either every row is stored or none, with a
row-by-row report.

The upload is never held in memory: Starlette's form parser spools the file to a temporary
file on disk (beyond 1 MB) and the importer reads that file row by row. This route's body
limit, :data:`MAX_UPLOAD_BYTES` (plus multipart slack), is enforced while the body is read by
:mod:`crlm.web.limits` (413).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from crlm.web.pages.common import render, require_csrf
from crlm.web.pages.patients import Clinical
from crlm.web.records import import_csv_upload

router = APIRouter(include_in_schema=False)

MAX_UPLOAD_BYTES = 200_000_000  # this route's body limit (a 2 million-row CSV is ~25-100 MB)


@router.get("/import")
def import_page(request: Request, user: Clinical) -> HTMLResponse:
    """The upload form."""
    return render(request, "import.html", user, result=None)


@router.post("/import", dependencies=[Depends(require_csrf)])
async def import_submit(request: Request, user: Clinical) -> HTMLResponse:
    """Import the uploaded file into the user's centre, or report every bad row."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return render(request, "import.html", user, status_code=422, result=None,
                      messages=["Choose a CSV or Excel file to import."])
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        from crlm.registry.importer import ImportResult, RowError

        too_big = f"file is larger than {MAX_UPLOAD_BYTES // 1_000_000} MB"
        result = ImportResult(ok=False, n_rows=0, errors=[RowError(1, None, "(file)", too_big)])
    else:
        centre = form.get("centre")
        await upload.seek(0)
        result = await run_in_threadpool(
            import_csv_upload, request.app.state.session_factory, user, upload.filename,
            upload.file, centre.strip() if isinstance(centre, str) else None,
            replace=form.get("replace") == "yes",
        )
    return render(
        request, "import.html", user, status_code=200 if result.ok else 422,
        result=result, filename=upload.filename,
    )
