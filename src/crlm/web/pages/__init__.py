"""Server-rendered pages (Jinja2), one router per area."""

from fastapi import APIRouter

from crlm.web.pages import account, admin, auth, calculator, cohort, imports, mdt, patients

router = APIRouter(include_in_schema=False)
for module in (auth, patients, calculator, mdt, cohort, imports, admin, account):
    router.include_router(module.router)

__all__ = ["router"]
