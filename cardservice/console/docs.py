"""``/docs``: Swagger UI 5 (OpenAPI 3.1) from the ``openapi-ui-bundles`` package installed with
the project, so the page works with no internet; its "Try it out" calls come from the daemon's
own origin, which the Origin check accepts."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from openapi_ui_bundles import swagger_ui

from cardservice.console.web import PREFIX

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

ASSETS = "/docs/assets"
DOCS_HEADERS = {
    # Swagger UI sets style attributes from its script; everything else comes from here
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cardservice API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
<link rel="icon" href="{ASSETS}/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{PREFIX}/static/docs.js"></script></body></html>
"""


@router.get("/docs")
async def docs(_request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE, headers=DOCS_HEADERS)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=swagger_ui.static_path), name="docs-assets")
