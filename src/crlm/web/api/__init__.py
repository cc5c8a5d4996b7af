"""The JSON API (``/api/v1``): one router per resource, assembled here."""

from fastapi import APIRouter

from crlm.web.api import analysis, assess, auth, patients

router = APIRouter()
router.include_router(auth.router)
router.include_router(patients.router)
router.include_router(assess.router)
router.include_router(analysis.router)

__all__ = ["router"]
