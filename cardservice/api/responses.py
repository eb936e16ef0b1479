"""A JSON response for the hot paths that build their answer as plain data."""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi.responses import Response


def json_response(content: Any, status_code: int = 200) -> Response:
    """``content`` (plain JSON data: dicts, lists, str, int, bool, None) as the bytes
    ``JSONResponse`` would send (compact, UTF-8), serialized by pydantic's Rust encoder
    (pydantic_core, part of pydantic) instead of ``json.dumps``: about 10 us instead of 50 for
    a card."""
    return Response(pydantic_core.to_json(content), status_code=status_code,
                    media_type="application/json")
