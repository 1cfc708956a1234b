"""The dashboard's Starlette application: pages, the live fragments they refresh from, artefacts from
the output roots, /metrics and the login form.

Every page is rendered on the server. A page's refresh (static/dashboard.js) asks for the same URL with
the header `X-Live: 1` and gets only the page's main region, which the script swaps in place while
keeping the video and image elements that did not change (a playing video keeps playing).
Handlers are plain functions: Starlette runs them on its thread pool, where the queue backends keep one
connection per thread.

Actions (cancel, retry, requeue) are form POSTs to /actions/<action> carrying the page's CSRF token
(access.py says who may act); each writes one log line (what, which rows changed, from where) and sends
the browser back to the page it came from.
"""
from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from typing import Optional

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..config import Settings, scrub_secrets
from ..queue.base import QueueReader
from ..queue.model import DatabaseUnavailable, Status
from . import access, pages
from .files import IMAGE_TYPES, VIDEO_TYPES, OutputRoots
from .metrics import CONTENT_TYPE, metrics_text

HERE = Path(__file__).resolve().parent
log = logging.getLogger("dashboard")
OUTAGE_LOG_EVERY_S = 300.0   # while the queue stays away, one log line per this many seconds
REFRESH_MS = 1500
SECURITY_HEADERS = {
    # nothing loads from anywhere but this server; no inline script; never framed
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; "
                               "script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# An output file is never a page of this site: nothing in it may run or load anything (a row can plant
# an .html or .svg file in an output folder); anything but a known video or image is a download.
FILE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'none'; "
                               "script-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; "
                               "sandbox",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(Status=Status, span=pages.span, percent=lambda x: f"{100 * (x or 0):.0f}%")
    return env


class Dashboard:
    def __init__(self, settings: Settings, queue: QueueReader, roots: OutputRoots) -> None:
        self.settings = settings
        self.queue = queue
        self.roots = roots
        self.env = templates()
        self._outage_logged: Optional[float] = None   # when the outage was last logged (None: no outage)
        self.secret = secrets.token_bytes(32)   # signs the pages' CSRF tokens; new at every start

    # ---- rendering ---------------------------------------------------------------------------------
    def page(self, request: Request, name: str, title: str, **context) -> Response:
        """The whole page, or only its main region for a live refresh."""
        if self._outage_logged is not None:
            self._outage_logged = None
            log.warning("the %s queue answers again", self.settings.db_type)
        main = self.env.get_template(name).render(request=request, csrf=access.csrf_token(self.secret, request),
                                                  **context)
        if request.headers.get("x-live"):
            return HTMLResponse(main, headers=SECURITY_HEADERS)
        html = self.env.get_template("base.html").render(
            main=main, title=title, path=request.url.path, refresh_ms=REFRESH_MS,
            token_required=bool(self.settings.dashboard_token))
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    def not_found(self, request: Request, what: str) -> Response:
        response = self.page(request, "missing.html", "Not found", what=what)
        response.status_code = 404
        return response

    # ---- pages -------------------------------------------------------------------------------------
    def overview(self, request: Request) -> Response:
        return self.page(request, "overview.html", "Overview", **pages.overview_page(self.queue, self.roots))

    def runs(self, request: Request) -> Response:
        where = pages.run_filter(request.query_params)
        page = _int(request.query_params.get("page"), 1)
        return self.page(request, "runs.html", "Runs", **pages.runs_page(self.queue, self.roots, page, where))

    def run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        context = pages.run_page(self.queue, self.roots, run_id)
        if context is None:
            return self.not_found(request, f"no run or row with id {run_id}")
        notice = pages.action_notice(request.query_params.get("did"), request.query_params.get("rows"))
        return self.page(request, "run.html", f"Run {context['run_id']}", notice=notice, **context)

    def workers(self, request: Request) -> Response:
        return self.page(request, "workers.html", "Workers", **pages.workers_page(self.queue))

    # ---- actions -----------------------------------------------------------------------------------
    async def act(self, request: Request) -> Response:
        action = request.path_params["action"]
        if action not in pages.ACTIONS:
            return PlainTextResponse(f"no action {action!r}; actions: {', '.join(pages.ACTIONS)}\n", status_code=404)
        values = await access.login_form_values(request)
        if self.settings.dashboard_token and not access.has_session(request, self.settings.dashboard_token):
            return PlainTextResponse("log in through the form to act on rows (a token header only reads)\n",
                                     status_code=403)
        if not access.csrf_matches(self.secret, request, values.get("csrf", "")):
            return PlainTextResponse("this form is out of date (the dashboard restarted?): reload the page and "
                                     "try again\n", status_code=403)
        task_id = values.get("task_id", "").strip()
        if not task_id:
            return PlainTextResponse("which row? (task_id is missing)\n", status_code=400)
        changed = await run_in_threadpool(pages.act, self.queue, action, task_id)
        if changed is None:
            return self.not_found(request, f"no run or row with id {task_id}")
        where = request.client.host if request.client else "?"
        who = "logged-in browser" if self.settings.dashboard_token else "no token required"
        log.info("%s %s from %s (%s): %s", action, task_id, where, who,
                 f"{len(changed)} row(s) changed: {', '.join(changed)}" if changed else "nothing changed")
        target = access.safe_next(values.get("next") or "/runs")
        return RedirectResponse(f"{target.split('?')[0]}?did={action}&rows={len(changed)}", status_code=303)

    # ---- the rest ----------------------------------------------------------------------------------
    def file(self, request: Request) -> Response:
        path = self.roots.find(_int(request.path_params["root"], -1), request.path_params["path"])
        if path is None:
            return PlainTextResponse("not found\n", status_code=404)
        suffix = path.suffix.lower()
        media_type = VIDEO_TYPES.get(suffix) or IMAGE_TYPES.get(suffix)
        if media_type is not None:
            return FileResponse(path, media_type=media_type, headers=FILE_HEADERS)
        return FileResponse(path, media_type="application/octet-stream", headers=FILE_HEADERS,
                            filename=path.name, content_disposition_type="attachment")

    def metrics(self, request: Request) -> Response:
        return Response(metrics_text(self.queue), media_type=CONTENT_TYPE)

    def unavailable(self, request: Request, exc: Exception) -> Response:
        """The queue did not answer (database down, network lost): one line, secrets removed; the page's
        script shows `offline` and keeps trying."""
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        now = time.monotonic()
        if self._outage_logged is None or now - self._outage_logged >= OUTAGE_LOG_EVERY_S:
            log.warning("the %s queue did not answer: %s (pages answer 503 until it is back)",
                        self.settings.db_type, scrub_secrets(first, self.settings))
            self._outage_logged = now
        return PlainTextResponse(f"the {self.settings.db_type} queue did not answer: "
                                 f"{scrub_secrets(first, self.settings)}\n", status_code=503)

    def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok\n")

    def login_form(self, request: Request) -> Response:
        return self._login_page(request, request.query_params.get("next", "/"), error=None)

    async def login(self, request: Request) -> Response:
        values = await access.login_form_values(request)
        target = values.get("next", "/")
        if access.token_matches(self.settings.dashboard_token, values.get("token", "")):
            return access.logged_in(self.settings.dashboard_token, target, request.url.scheme == "https")
        response = self._login_page(request, target, error="That is not the token.")
        response.status_code = 401
        return response

    def _login_page(self, request: Request, target: str, error: Optional[str]) -> Response:
        html = self.env.get_template("login.html").render(next=access.safe_next(target), error=error,
                                                          enabled=bool(self.settings.dashboard_token))
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    def logout(self, request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(access.COOKIE)
        return response


def _int(text: Optional[str], default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def create_app(settings: Settings, queue: QueueReader, roots: Optional[OutputRoots] = None) -> Starlette:
    """The application over an open queue; files are served from `roots` (default: from the settings)."""
    dashboard = Dashboard(settings, queue, roots or OutputRoots.from_settings(settings))
    routes = [
        Route("/", dashboard.overview),
        Route("/runs", dashboard.runs),
        Route("/runs/{run_id:path}", dashboard.run),
        Route("/workers", dashboard.workers),
        Route("/actions/{action:str}", dashboard.act, methods=["POST"]),
        Route("/files/{root}/{path:path}", dashboard.file),
        Route("/metrics", dashboard.metrics),
        Route("/healthz", dashboard.healthz),
        Route("/login", dashboard.login_form, methods=["GET"]),
        Route("/login", dashboard.login, methods=["POST"]),
        Route("/logout", dashboard.logout),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    # DatabaseUnavailable: handled where it is raised (one log line per outage); anything else is a bug,
    # answered the same way and logged with its traceback by the server
    app = Starlette(routes=routes, exception_handlers={DatabaseUnavailable: dashboard.unavailable,
                                                       Exception: dashboard.unavailable})
    app.add_middleware(access.TokenGate, token=settings.dashboard_token)
    names = tuple(part for part in (settings.dashboard_hostnames or "").split(",") if part.strip())
    app.add_middleware(access.HostGate, bound=settings.dashboard_host, names=names)
    app.state.dashboard = dashboard
    return app
