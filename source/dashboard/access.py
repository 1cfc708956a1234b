"""Who may see the dashboard: everyone on this machine when it binds a loopback address without a
token; with DASHBOARD_TOKEN, only requests that carry it.

The token travels as `Authorization: Bearer <token>` (or `X-Dashboard-Token`) from scrapers and scripts,
or as a cookie set by the login form for a browser. The cookie holds an HMAC of the token, not the token
itself, and is HttpOnly and SameSite=Strict. Pages redirect to the login form; anything else answers 401.

Who may act (cancel, retry, requeue): a POST carrying the page's CSRF token, an HMAC of a secret made when
the dashboard starts and of the browser's session cookie, so only a page this server rendered for that
browser can post it; with DASHBOARD_TOKEN, only a browser logged in through the form (a Bearer token
reads, it does not act).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Optional
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "dashboard_session"
MIN_TOKEN_LENGTH = 16
OPEN_PATHS = ("/login", "/static/", "/healthz")   # reachable without the token


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def binding_problem(host: str, token: Optional[str]) -> Optional[str]:
    """Why the dashboard must not start with this address and token, or None."""
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        return (f"DASHBOARD_TOKEN is too short ({len(token)} characters; use at least {MIN_TOKEN_LENGTH}, "
                "e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)")
    if not is_loopback(host) and not token:
        return (f"binding {host} opens the dashboard to the network: set DASHBOARD_TOKEN (environment or "
                ".env), or bind 127.0.0.1")
    return None


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"dashboard-session", hashlib.sha256).hexdigest()


def safe_next(target: Optional[str]) -> str:
    """Where to go after logging in: a path on this site only."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class TokenGate:
    """ASGI middleware: requests without the token get a login redirect (pages) or 401 (the rest)."""

    def __init__(self, app: ASGIApp, token: Optional[str]) -> None:
        self.app = app
        self.token = token or None
        self.cookie = session_value(token) if token else None

    def allows(self, request: Request) -> bool:
        if self.token is None or request.url.path.startswith(OPEN_PATHS):
            return True
        header = request.headers.get("authorization", "")
        offered = header[7:].strip() if header.lower().startswith("bearer ") else \
            request.headers.get("x-dashboard-token", "")
        if offered and token_matches(self.token, offered):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.cookie.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if self.allows(request):
            await self.app(scope, receive, send)
            return
        await refusal(request)(scope, receive, send)


def refusal(request: Request) -> Response:
    wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "") \
        and not request.headers.get("x-live")
    if wants_page:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return PlainTextResponse("this dashboard needs its token (Authorization: Bearer <DASHBOARD_TOKEN>)\n",
                             status_code=401, headers={"WWW-Authenticate": "Bearer"})


async def login_form_values(request: Request) -> dict[str, str]:
    """The login form's fields (application/x-www-form-urlencoded, read without a multipart parser)."""
    body = (await request.body())[:4096].decode("utf-8", "replace")
    return {key: values[0] for key, values in parse_qs(body).items()}


def logged_in(token: str, target: str, secure: bool) -> Response:
    response = RedirectResponse(safe_next(target), status_code=303)
    response.set_cookie(COOKIE, session_value(token), httponly=True, samesite="strict", secure=secure,
                        max_age=30 * 24 * 3600)
    return response


def has_session(request: Request, token: Optional[str]) -> bool:
    """Whether the request carries the login form's session cookie for `token`."""
    cookie = request.cookies.get(COOKIE, "")
    return bool(token) and bool(cookie) and hmac.compare_digest(cookie.encode(), session_value(token or "").encode())


def csrf_token(secret: bytes, request: Request) -> str:
    """The token a page's action forms carry: bound to this dashboard process and the browser's session."""
    return hmac.new(secret, b"csrf:" + request.cookies.get(COOKIE, "").encode(), hashlib.sha256).hexdigest()


def csrf_matches(secret: bytes, request: Request, offered: str) -> bool:
    return bool(offered) and hmac.compare_digest(offered.encode(), csrf_token(secret, request).encode())


def token_matches(token: Optional[str], offered: str) -> bool:
    return bool(token) and hmac.compare_digest(offered.encode(), token.encode())


# ---- DNS rebinding ---------------------------------------------------------------------------------------
# A page on another site can make a browser send requests to this dashboard under the other site's name
# (its DNS answer changed to 127.0.0.1). Such requests carry that name in Host: only the bound address,
# localhost (on a loopback binding), an IP address (on a wildcard binding) and DASHBOARD_HOSTNAMES pass.

WILDCARD_HOSTS = ("", "0.0.0.0", "::")


def host_name(header: str) -> str:
    """The name in a Host header, without its port or IPv6 brackets, lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def host_allowed(header: str, bound: str, names: tuple[str, ...] = ()) -> bool:
    name = host_name(header)
    bound = bound.strip("[]").lower()
    if not name:
        return False
    if name == bound or name in names:
        return True
    if is_loopback(bound):
        return is_loopback(name)
    return bound in WILDCARD_HOSTS and _is_ip(name)


class HostGate:
    """ASGI middleware: a request whose Host is not this dashboard's gets 421, before anything else runs."""

    def __init__(self, app: ASGIApp, bound: str, names: tuple[str, ...] = ()) -> None:
        self.app = app
        self.bound = bound
        self.names = tuple(n.strip().lower() for n in names if n.strip())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if not host_allowed(header, self.bound, self.names):
                response = PlainTextResponse("this dashboard does not answer to that host name "
                                             "(DASHBOARD_HOSTNAMES lists the names it answers to)\n",
                                             status_code=421)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
