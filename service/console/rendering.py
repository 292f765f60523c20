"""How the console's pages reach their context and render a template: the app keys, the Jinja2
rendering and the security headers every page carries. Below both `app.py` (the wiring) and
`pages.py` (the handlers), so neither has to import the other's module at run time."""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

from veriframe.service.console.context import ConsoleContext
from veriframe.service.console.sessions import SESSION

CTX: web.AppKey[ConsoleContext] = web.AppKey("console", ConsoleContext)
CONSOLE_APP: web.AppKey[web.Application] = web.AppKey("console_app", web.Application)
TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("templates", jinja2.Environment)


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    env = request.app[TEMPLATES]
    session = request.get(SESSION)
    html = env.get_template(template).render(
        session=session, csrf=session.csrf if session else "", static=_static_url(request), **values
    )
    return web.Response(text=html, status=status, content_type="text/html", headers=SECURITY_HEADERS)


# No CDN, no inline script: every script and style is this server's own file.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
                               "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make Chromium send "Origin: null" on forms
    "Cache-Control": "no-store",
}


def _static_url(request: web.Request) -> Any:
    # Error pages can render outside the console app (e.g. a 404 of the parent app), so the static
    # route is looked up on the console app itself.
    console = request.config_dict.get(CONSOLE_APP) or request.app

    def url(name: str) -> str:
        return str(console.router["static"].url_for(filename=name))

    return url
