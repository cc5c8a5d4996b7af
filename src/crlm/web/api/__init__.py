"""The JSON API (``/api/v1``): one router per resource, assembled here."""

from fastapi import APIRouter

from crlm.web.api import analysis, assess, auth, patients

router = APIRouter()
# Routes are matched in order (a linear scan): the busiest endpoint, POST /assess, first.
# No two routers share a path, so the order changes nothing else.
router.include_router(assess.router)
router.include_router(auth.router)
router.include_router(patients.router)
router.include_router(analysis.router)

__all__ = ["router"]
