"""The review console's aiohttp application, mounted at `/console/` on the server's HTTP port.

Wiring only: the routes, the Jinja2 templates, and three middlewares that every request passes:
1. `errors`: every failure becomes a readable error page with the right HTTP status (never a traceback);
2. `signed_in`: loads the session from its cookie, or sends the browser to the sign-in page;
3. `csrf`: refuses a state-changing request whose form does not carry the session's CSRF token, or
   that comes from another origin.
The pages themselves are in `pages.py` (they render through `rendering.py`); what they show is read
through the admin domain (`veriframe.service.admin`), so the console can do nothing the gRPC API would
not let the same key do.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from veriframe.service.console import pages
from veriframe.service.console.context import ConsoleContext
from veriframe.service.console.rendering import CONSOLE_APP, CTX, TEMPLATES, render
from veriframe.service.console.sessions import COOKIE, FORM, SESSION
from veriframe.service.errors import ServiceError

log = logging.getLogger("veriframe.console")
HERE = Path(__file__).resolve().parent
OPEN_PATHS = ("/console/signin", "/console/static/")
STATUS_FOR = {  # the domain's gRPC codes as HTTP statuses
    "INVALID_ARGUMENT": 400, "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404,
    "FAILED_PRECONDITION": 409, "ABORTED": 409, "RESOURCE_EXHAUSTED": 429, "UNAVAILABLE": 503,
}


def build_console(server_ctx: Any) -> web.Application:
    """The console sub-application over a running server's context."""
    app = web.Application(middlewares=[errors, signed_in, csrf], client_max_size=pages.MAX_UPLOAD_BYTES)
    app[CTX] = ConsoleContext.from_server(server_ctx)
    app[TEMPLATES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    r = app.router
    r.add_get("/signin", pages.signin_form, name="signin")
    r.add_post("/signin", pages.signin)
    r.add_post("/signout", pages.signout, name="signout")
    r.add_get("/", pages.queue, name="queue")
    r.add_get("/reviews/{review_id}", pages.review_item, name="review")
    r.add_post("/reviews/{review_id}/decision", pages.decide)
    r.add_get("/policies", pages.policies, name="policies")
    r.add_get("/policies/diff", pages.policy_diff)
    r.add_post("/policies/propose", pages.policy_propose)
    r.add_post("/policies/publish", pages.policy_publish)
    r.add_get("/audit", pages.audit, name="audit")
    r.add_get("/audit/{seq}", pages.audit_event)
    r.add_get("/audit/{seq}/proof.json", pages.audit_proof)
    r.add_get("/verify", pages.verify_form, name="verify")
    r.add_post("/verify", pages.verify_upload)
    r.add_static("/static/", HERE / "static", append_version=True, name="static")
    app[CONSOLE_APP] = app
    return app


def mount(app: web.Application, server_ctx: Any) -> None:
    """An HTTP-port mount (see `veriframe.service.observability.http`): the console at /console/."""
    app.add_subapp("/console/", build_console(server_ctx))


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPRedirection:
        raise
    except web.HTTPException as error:
        return render(request, "error.html", status=error.status, title=error.reason,
                      message=error.text if error.text and not error.text.startswith(str(error.status)) else
                      _DEFAULT_MESSAGES.get(error.status, error.reason))
    except ServiceError as error:
        status = STATUS_FOR.get(error.code, 500)
        return render(request, "error.html", status=status, title=_TITLES.get(status, "Error"),
                      message=str(error))
    except Exception:
        log.exception("console: unexpected error on %s %s", request.method, request.path)
        return render(request, "error.html", status=500, title="Something went wrong",
                      message="The console hit an unexpected error; it is in the server log. Try again.")


_TITLES = {400: "Bad request", 401: "Sign-in needed", 403: "Not allowed", 404: "Not found",
           409: "Cannot do that now", 429: "Too many attempts", 503: "Service unavailable"}
_DEFAULT_MESSAGES = {
    404: "There is no console page at this address.",
    405: "This page does not accept that kind of request.",
    413: f"The file is too large (at most {pages.MAX_UPLOAD_BYTES // 2**20} MB).",
}


@web.middleware
async def signed_in(request: web.Request, handler: Any) -> web.StreamResponse:
    ctx = request.app[CTX]
    session = ctx.sessions.get(request.cookies.get(COOKIE))
    request[SESSION] = session
    if session is None and not request.path.startswith(OPEN_PATHS):
        if request.method == "GET":
            raise web.HTTPSeeOther(str(request.app.router["signin"].url_for()))
        raise web.HTTPUnauthorized(text="Your session has ended: sign in again.")
    return await handler(request)


@web.middleware
async def csrf(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return await handler(request)
    origin = request.headers.get("Origin")
    if origin and origin != f"{request.scheme}://{request.host}":
        raise web.HTTPForbidden(text="This request came from another site and was refused.")
    if request.path.startswith(OPEN_PATHS):  # sign-in: there is no session yet (SameSite + Origin guard it)
        return await handler(request)
    form = await request.post()
    token = form.get("csrf")
    session = request[SESSION]
    if not isinstance(token, str) or session is None or not session.csrf_ok(token):
        raise web.HTTPForbidden(
            text="The form was missing its security token (CSRF). Reload the page and try again.")
    request[FORM] = form
    return await handler(request)
