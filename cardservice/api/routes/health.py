"""``GET /v1/health``: no token, no PC/SC call (the monitor's last view), always fast."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from cardservice import __version__
from cardservice.api.deps import RuntimeDep
from cardservice.api.models import Health

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/v1/health", response_model=Health)
def health(runtime: RuntimeDep) -> Health:
    monitor = runtime.monitor
    available = monitor.available is True
    return Health(status="ok" if available else "degraded", pcsc_available=available,
                  reader_count=len(monitor.snapshot) if available else 0, version=__version__)
