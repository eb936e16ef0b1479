"""The audit page (admin): the log filtered by card, site, clerk and date, and the chain check."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cardservice import errors
from cardservice.console.web import PREFIX, clerk_of, console_of, render
from cardservice.engine.views import audit_dict
from cardservice.roles import Role
from cardservice.store.audit import MAX_LIMIT
from cardservice.store.registry import normalize_serial

logger = logging.getLogger(__name__)

router = APIRouter(prefix=PREFIX, include_in_schema=False)

SHOWN = 200
FILTERS = ("card", "site", "clerk", "since", "until")


def _day(name: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise errors.ValidationError(name, "must be a date YYYY-MM-DD", "date_parsing") from None


def _matches(entry: dict[str, Any], site: str, clerk: str, since: date | None,
             until: date | None) -> bool:
    day = datetime.fromisoformat(entry["ts"]).date()
    actor = entry["actor"] or ""
    return ((not clerk or actor in (clerk, f"clerk:{clerk}"))
            and (not site or site in (entry.get("site") or entry["reader"] or ""))
            and (since is None or day >= since) and (until is None or day <= until))


async def _entries(request: Request, query: dict[str, str]) -> list[dict[str, Any]]:
    serial = normalize_serial(query["card"]) if query["card"] else None
    since, until = _day("since", query["since"]), _day("until", query["until"])
    log = console_of(request).runtime.audit()
    rows = await asyncio.to_thread(log.entries, card_serial=serial, limit=MAX_LIMIT)
    found = [{**audit_dict(e), "site": e.site_id} for e in rows]  # site: PostgreSQL only
    return [e for e in found if _matches(e, query["site"], query["clerk"], since, until)]


@router.get("/audit")
async def audit_page(request: Request) -> Response:
    clerk = await clerk_of(request, Role.ADMIN)
    query = {k: request.query_params.get(k, "").strip() for k in FILTERS}
    field_errors, entries = {}, []
    try:
        entries = await _entries(request, query)
    except errors.ValidationError as exc:
        from cardservice.console.web import translator

        field, message = translator(request).describe(exc)
        field_errors = {"card" if field in ("serial", "card_serial") else field: message}
    log = console_of(request).runtime.audit()
    check = await asyncio.to_thread(log.verify)
    return render(request, "audit.html", clerk=clerk, query=query, entries=entries[:SHOWN],
                  total=len(entries), field_errors=field_errors, check=check)
