"""``GET /v1/health``: no token, no PC/SC call (the monitor's last view), one bounded round
trip to the database; always fast. A verify-only installation adds its trust bundle's state."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter

from cardservice import __version__, errors
from cardservice.api.deps import RuntimeDep
from cardservice.api.models import DatabaseHealth, Health, TrustHealth

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

PING_TIMEOUT = 1.0


@router.get("/v1/health", response_model=Health)
async def health(runtime: RuntimeDep) -> Health:
    monitor = runtime.monitor
    available = monitor.available is True
    database = await _database(runtime)
    trust = await asyncio.to_thread(_trust, runtime) if runtime.service.mode == "verify" \
        else None
    ok = available and database.available and (trust is None or not trust.stale)
    return Health(status="ok" if ok else "degraded", pcsc_available=available,
                  reader_count=len(monitor.snapshot) if available else 0, version=__version__,
                  database=database, trust=trust)


def _trust(runtime: RuntimeDep) -> TrustHealth:
    """The installed bundle as the reads see it (reloaded when its files change)."""
    state = runtime.service.engine.verify_only.state(runtime.clock())  # verify mode: set
    return TrustHealth(bundle_issued_at=state.issued_at, stale=state.stale,
                       revoked_cards=state.revoked_cards, issued_cards=state.issued_cards,
                       message=state.message)


async def _database(runtime: RuntimeDep) -> DatabaseHealth:
    """One cheap round trip to the registry database, bounded in time."""
    stores = runtime.service.stores
    try:
        db = stores.database("registry")
        await asyncio.wait_for(asyncio.to_thread(db.ping), PING_TIMEOUT)
    except errors.CardServiceError as exc:
        return DatabaseHealth(backend=stores.backend, site_id=stores.site_id, available=False,
                              message=exc.code)
    except TimeoutError:
        return DatabaseHealth(backend=stores.backend, site_id=stores.site_id, available=False,
                              message="timeout")
    return DatabaseHealth(backend=stores.backend, site_id=stores.site_id, available=True)
