"""Login, logout and the language switch."""

from __future__ import annotations

import asyncio
import logging
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cardservice.console.i18n import LANGUAGES
from cardservice.console.web import (
    LANG_COOKIE,
    LOGIN_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    check_csrf,
    console_of,
    form_of,
    posted_form,
    redirect,
    render,
    set_cookie,
    translator,
)
from cardservice.errors import LoginFailedError, LoginLockedError
from cardservice.roles import Role

logger = logging.getLogger(__name__)

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/verify-only")
async def verify_only_refused(request: Request) -> Response:
    """What a verify-only installation (CARDSERVICE_MODE=verify) shows for a console page it
    does not serve (api/verifymode.py sends every such request here)."""
    return render(request, "error.html", status=403, code="FORBIDDEN",
                  message=translator(request)("error.verify_only"))


def _safe_next(value: str | None) -> str:
    """Only a console path (no scheme, no host): no open redirect."""
    if value and value.startswith(f"{PREFIX}/") and "//" not in value and "\\" not in value:
        return value
    return f"{PREFIX}/readers"


def _login_page(request: Request, *, status: int = 200, error: str | None = None,
                name: str = "") -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", status=status, csrf=token, error=error, name=name,
                      next=_safe_next(request.query_params.get("next")))
    set_cookie(response, LOGIN_COOKIE, token, max_age=3600)
    return response


@router.get("")
@router.get("/")
async def home() -> Response:
    return redirect(f"{PREFIX}/readers")


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await form_of(request)
    check_csrf(form, request.cookies.get(LOGIN_COOKIE))
    t = translator(request)
    name = form.get("name", "").strip()
    client = request.client.host if request.client else "local"
    accounts = console_of(request).accounts
    try:
        secret, _clerk = await asyncio.to_thread(accounts.login, name, form.get("password", ""),
                                                 client)
    except LoginLockedError as exc:
        until = exc.until.astimezone().strftime("%H:%M")
        return _login_page(request, status=429, error=t("login.locked", until=until), name=name)
    except LoginFailedError:
        return _login_page(request, status=401, error=t("login.failed"), name=name)
    response = redirect(_safe_next(form.get("next")))
    set_cookie(response, SESSION_COOKIE, secret)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    clerk, _form = await posted_form(request, Role.READER)
    await asyncio.to_thread(console_of(request).accounts.logout,
                            request.cookies.get(SESSION_COOKIE))
    logger.info("clerk %s logged out", clerk.name)
    response = redirect(f"{PREFIX}/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
async def language(code: str, request: Request) -> Response:
    response = redirect(_safe_next(request.query_params.get("next")))
    if code in LANGUAGES:
        set_cookie(response, LANG_COOKIE, code, max_age=365 * 24 * 3600)
    return response
