"""Exception handlers: malformed or invalid input never becomes a 500.

API (paths under ``/api/``): JSON bodies ``{"detail": ..., "errors": [{"field", "reason"}]}``.
Pages: a redirect to /login, or a small HTML error page.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from crlm.domain.errors import problems_from
from crlm.web.deps import (
    PASSWORD_CHANGE_PATH,
    LoginRequiredError,
    PageForbiddenError,
    PasswordChangeRequiredError,
)
from crlm.web.refusals import audit_refusal
from crlm.web.security import TooManyLoginAttemptsError

API_PREFIX = "/api/"


def is_api(request: Request) -> bool:
    """True for JSON API requests."""
    return request.url.path.startswith(API_PREFIX)


def field_errors(error: ValidationError) -> list[dict[str, str]]:
    """``[{"field": "labs.cea_ng_ml", "reason": "..."}]`` from a pydantic error."""
    return [{"field": p.field, "reason": p.reason} for p in problems_from(error)]


class PatientInvalidError(Exception):
    """A patient body failed validation; carries the field errors."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))
        self.errors = errors


class MalformedBodyError(Exception):
    """The request body is not JSON (or not the expected JSON shape)."""


def _request_validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            where, loc = loc[0], loc[1:]
        else:
            where = "body"
        field = ".".join(loc) or where
        out.append({"field": field, "reason": str(err.get("msg", "invalid")), "in": where})
    return out


async def _page_error(request: Request, status_code: int, message: str) -> Response:
    """The error page, with the navigation of the logged-in user (if any)."""
    from crlm.web.deps import SESSION_USER_KEY, cached_user

    user = None
    if "session" in request.scope:
        username = request.session.get(SESSION_USER_KEY)
        if isinstance(username, str):
            try:
                user = await cached_user(request, username)
            except Exception:  # the error page must render even if the database is down
                user = None
    templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status_code": status_code, "message": message, "user": user},
        status_code=status_code,
    )


def install_exception_handlers(app: FastAPI) -> None:
    """Register every handler on ``app``."""

    @app.exception_handler(PatientInvalidError)
    async def _patient_invalid(request: Request, exc: PatientInvalidError) -> Response:
        return JSONResponse(
            {"detail": "patient data are invalid", "errors": exc.errors},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(MalformedBodyError)
    async def _malformed(request: Request, exc: MalformedBodyError) -> Response:
        return JSONResponse(
            {"detail": f"malformed request body: {exc}", "errors": []},
            status_code=status.HTTP_400_BAD_REQUEST,
        )

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = _request_validation_errors(exc)
        if not is_api(request):
            message = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
            return await _page_error(request, 422, message)
        malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
        body: dict[str, Any] = {
            "detail": "malformed JSON" if malformed else "request is invalid",
            "errors": errors,
        }
        return JSONResponse(body, status_code=400 if malformed else 422)

    @app.exception_handler(LoginRequiredError)
    async def _login_required(request: Request, exc: LoginRequiredError) -> Response:
        from urllib.parse import quote

        if request.url.path != "/":  # the start page is where everyone begins
            await audit_refusal(request, status.HTTP_401_UNAUTHORIZED)
        return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)

    @app.exception_handler(PasswordChangeRequiredError)
    async def _password_change(request: Request, exc: PasswordChangeRequiredError) -> Response:
        return RedirectResponse(PASSWORD_CHANGE_PATH, status_code=303)

    @app.exception_handler(PageForbiddenError)
    async def _page_forbidden(request: Request, exc: PageForbiddenError) -> Response:
        await audit_refusal(request, status.HTTP_403_FORBIDDEN)
        return await _page_error(request, 403, exc.message)

    @app.exception_handler(TooManyLoginAttemptsError)
    async def _too_many(request: Request, exc: TooManyLoginAttemptsError) -> Response:
        await audit_refusal(request, status.HTTP_429_TOO_MANY_REQUESTS)
        headers = {"Retry-After": str(exc.retry_after_s)}
        if is_api(request):
            return JSONResponse({"detail": str(exc)}, status_code=429, headers=headers)
        message = "Too many failed logins. " + str(exc).capitalize()
        response = await _page_error(request, 429, message)
        response.headers.update(headers)
        return response

    @app.exception_handler(sa_exc.DataError)
    async def _db_data(request: Request, exc: sa_exc.DataError) -> Response:
        # e.g. a NUL character or an out-of-range number PostgreSQL cannot store
        message = "a value cannot be stored (unsupported character or out of range)"
        if is_api(request):
            return JSONResponse({"detail": message, "errors": []}, status_code=422)
        return await _page_error(request, 422, message.capitalize() + ".")

    @app.exception_handler(sa_exc.IntegrityError)
    async def _db_integrity(request: Request, exc: sa_exc.IntegrityError) -> Response:
        message = "the change conflicts with stored data (e.g. a duplicate id)"
        if is_api(request):
            return JSONResponse({"detail": message, "errors": []}, status_code=409)
        return await _page_error(request, 409, message.capitalize() + ".")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        await audit_refusal(request, exc.status_code)
        headers = getattr(exc, "headers", None)
        if is_api(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=headers
            )
        return await _page_error(request, exc.status_code, str(exc.detail))
