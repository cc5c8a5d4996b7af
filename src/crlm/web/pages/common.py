"""Helpers shared by the server-rendered pages: rendering and the CSRF check of POST forms."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse

from crlm.web.deps import CurrentUser
from crlm.web.security import CSRF_FORM_FIELD, csrf_valid


def render(
    request: Request,
    template: str,
    user: CurrentUser | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the user, the pending flash messages and the given context."""
    templates = request.app.state.templates
    messages = request.session.pop(FLASH_KEY, None) or []
    return templates.TemplateResponse(
        request, template, {"user": user, "messages": messages, **context},
        status_code=status_code,
    )


FLASH_KEY = "flash"


def flash(request: Request, message: str) -> None:
    """A message shown once on the next page (e.g. "Patient #4 was deleted.")."""
    request.session[FLASH_KEY] = [*request.session.get(FLASH_KEY, []), message][-5:]


async def require_csrf(request: Request) -> None:
    """Dependency of every POST form: the ``csrf_token`` field must match the session's."""
    try:
        form = await request.form()
    except Exception as exc:  # malformed multipart / urlencoded body
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="malformed form data") from exc
    if not csrf_valid(request.session, form.get(CSRF_FORM_FIELD)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="The form's security token is missing or out of date. "
            "Go back, reload the page and submit again.",
        )


def sentence(text: str) -> str:
    """A message as a sentence: first letter upper case (the rest kept), a final full stop."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def safe_next(url: str | None) -> str:
    """A local redirect target (path on this site), else '/'; blocks open redirects."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/"
    return url
