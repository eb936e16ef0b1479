"""What every console page shares: the console's state, the clerk of the session cookie, form
parsing with the CSRF check, and rendering a template in the clerk's language.

Cookies: ``cs_session`` (the session secret), ``cs_login`` (the login form's CSRF secret before
there is a session), ``cs_lang`` (zh-CN or en). The first two are HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cardservice import errors
from cardservice.api.errors import status_for
from cardservice.api.runtime import Runtime
from cardservice.console.accounts import Accounts, Clerk
from cardservice.console.i18n import LANGUAGES, Translator
from cardservice.engine.policy import EVIDENCE_KINDS
from cardservice.roles import Role

logger = logging.getLogger(__name__)

PREFIX = "/console"
SESSION_COOKIE = "cs_session"
LOGIN_COOKIE = "cs_login"
LANG_COOKIE = "cs_lang"
MAX_FORM_BYTES = 16 * 1024
MAX_FILES, MAX_FIELDS = 2, 40
#: Everything the console loads comes from this daemon; no page may be framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_TEMPLATES = Path(__file__).parent / "templates"


class LoginRequired(Exception):
    """No live session: the handler redirects to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


@dataclass
class Console:
    runtime: Runtime
    accounts: Accounts
    env: jinja2.Environment
    #: a verify-only installation: readers and card pages with the verdict, nothing to write
    verify_only: bool = False


def build_env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.globals["PREFIX"] = PREFIX
    env.globals["LANGUAGES"] = LANGUAGES
    env.globals["evidence_options"] = evidence_options
    return env


def evidence_options(t: Translator) -> list[tuple[str, str]]:
    """The evidence select: every kind the permit policy accepts, named with the basis it
    proves (from the policy, so a form never offers less than the rules take)."""
    return [("", "—")] + [
        (kind, t("form.evidence_option", kind=t(f"evidence.{kind}", default=kind), basis=basis))
        for basis, kinds in sorted(EVIDENCE_KINDS.items()) for kind in sorted(kinds)]


def console_of(request: Request) -> Console:
    return request.app.state.console


def translator(request: Request) -> Translator:
    return Translator(request.cookies.get(LANG_COOKIE))


async def clerk_of(request: Request, required: Role = Role.READER) -> Clerk:
    """The session's clerk, or LoginRequired; ForbiddenError if the role does not allow
    ``required`` (the same check as the API's)."""
    from cardservice.api.security import require_role

    console = console_of(request)
    clerk = await asyncio.to_thread(console.accounts.clerk, request.cookies.get(SESSION_COOKIE))
    if clerk is None:
        raise LoginRequired(request.url.path)
    require_role(clerk, required)
    return clerk


async def form_of(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise errors.ValidationError("body", "the form is too large", reason="too_long")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


async def upload_of(request: Request) -> tuple[dict[str, str], dict[str, bytes]]:
    """A form that may carry files (``multipart/form-data``; the daemon's guard has capped the
    body): its text fields, and the bytes of each file chosen (none chosen: left out)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "multipart/form-data":
        return await form_of(request), {}
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    async with request.form(max_files=MAX_FILES, max_fields=MAX_FIELDS) as form:
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields[key] = value
            elif value.filename or value.size:
                files[key] = await value.read()
    return fields, files


def check_csrf(form: dict[str, str], expected: str | None) -> None:
    sent = form.get("csrf", "")
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise errors.CsrfError("the form's CSRF token is missing or wrong; reload the page")


async def posted_form(request: Request, required: Role) -> tuple[Clerk, dict[str, str]]:
    """A POSTed form of a logged-in clerk with the right role and a valid CSRF token."""
    clerk = await clerk_of(request, required)
    form = await form_of(request)
    check_csrf(form, clerk.csrf)
    return clerk, form


async def posted_upload(request: Request, required: Role
                        ) -> tuple[Clerk, dict[str, str], dict[str, bytes]]:
    """:func:`posted_form` for a form that may carry files."""
    clerk = await clerk_of(request, required)
    form, files = await upload_of(request)
    check_csrf(form, clerk.csrf)
    return clerk, form, files


def render(request: Request, template: str, *, clerk: Clerk | None = None, status: int = 200,
           **context: Any) -> HTMLResponse:
    t = translator(request)
    context.setdefault("back", request.url.path if request.method == "GET"
                       else f"{PREFIX}/readers")  # where the language switch returns to
    console = console_of(request)
    html = console.env.get_template(template).render(
        t=t, lang=t.lang, clerk=clerk, Role=Role, verify_only=console.verify_only, **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None = None,
               http_only: bool = True) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=http_only,
                        samesite="strict")


async def _on_login_required(_request: Request, exc: LoginRequired) -> Response:
    return redirect(f"{PREFIX}/login?next={quote(exc.next_path)}")


async def _on_console_error(request: Request, exc: errors.CardServiceError) -> Response:
    """Errors of console pages as a page in the clerk's language; the API keeps its JSON."""
    if not request.url.path.startswith(PREFIX):
        from cardservice.api.errors import error_response

        return error_response(exc)
    _, message = translator(request).describe(exc)
    return render(request, "error.html", status=status_for(exc.code), code=exc.code,
                  message=message)


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, _on_login_required)
    app.add_exception_handler(errors.CardServiceError, _on_console_error)
