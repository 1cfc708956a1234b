"""A Supabase-shaped stack for tests, built from real parts where they exist.

- PostgreSQL: the server at 127.0.0.1:5432 (trust auth); each stack gets a fresh database, dropped after.
  The roles a Supabase project has (anon, authenticated, service_role with BYPASSRLS, the login role
  authenticator) are created when missing.
- PostgREST: the real 12.x binary installed by scripts/install_test_services.sh into .tools/bin
  (or $POSTGREST_BIN, or `postgrest` on PATH), started on a free localhost port.
- A gateway (aiohttp, in a background thread) playing Supabase's API gateway: `/rest/v1/*` is proxied
  to PostgREST's root, as supabase-py expects.
- `StorageStandIn`: NOT Supabase Storage (which cannot be installed here) but a small in-memory stand-in
  for its object endpoints, served by the same gateway under `/storage/v1/object/*`: upload (raw body,
  x-upsert), public download, sign + signed download. It records every request and can be told to answer
  5xx a number of times, so retry behaviour is observable.
- JWTs (HS256, like Supabase's anon and service_role keys) minted with the stack's secret.

Missing PostgREST or PostgreSQL: tests skip with the reason, or fail when REQUIRE_SERVICES=1
(tests/helpers/services.py).
"""
from __future__ import annotations

import asyncio
import contextlib

from psycopg.conninfo import conninfo_to_dict
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional
from urllib.parse import quote

import jwt

from .services import PG_ADMIN_DSN, skip_or_fail, stop_process, temporary_postgres_database

REPO_ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "test-only-secret-for-postgrest-at-least-32-characters"
SUPABASE_ROLES = ("anon", "authenticated", "service_role")


# ---- finding things ------------------------------------------------------------------------------

def postgrest_binary() -> Optional[str]:
    candidates = [os.environ.get("POSTGREST_BIN"), str(REPO_ROOT / ".tools" / "bin" / "postgrest"),
                  shutil.which("postgrest")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, alive: Callable[[], bool] = lambda: True) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
        time.sleep(0.02)
    return False


# ---- keys ----------------------------------------------------------------------------------------

def mint_jwt(role: str, secret: str = JWT_SECRET, lifetime_s: int = 3600, **claims) -> str:
    """A key shaped like Supabase's: HS256, {"role": ...}."""
    now = int(time.time())
    payload = {"role": role, "iss": "supabase-test", "iat": now, "exp": now + lifetime_s, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


def jwt_role(token: str, secret: str = JWT_SECRET) -> Optional[str]:
    try:
        return jwt.decode(token, secret, algorithms=["HS256"]).get("role")
    except jwt.PyJWTError:
        return None


# ---- PostgreSQL ----------------------------------------------------------------------------------

def ensure_supabase_roles(admin_dsn: str = PG_ADMIN_DSN) -> None:
    """The roles of a Supabase project (cluster-wide; other test sessions may create them at once)."""
    import psycopg

    statements = [
        "CREATE ROLE anon NOLOGIN NOINHERIT",
        "CREATE ROLE authenticated NOLOGIN NOINHERIT",
        "CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS",
        "CREATE ROLE authenticator LOGIN NOINHERIT",
    ]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for statement in statements:
            with contextlib.suppress(psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                conn.execute(statement)
        for role in SUPABASE_ROLES:
            conn.execute(f"GRANT {role} TO authenticator")


def apply_migrations(dsn: str) -> None:
    """The project's own migration runner (the postgres backend's), not a copy of it."""
    from source.config import Settings
    from source.queue.factory import open_migrated_queue

    open_migrated_queue(Settings(db_type="postgres", database_url=dsn)).close()


# ---- PostgREST -----------------------------------------------------------------------------------

class PostgrestServer:
    """The real PostgREST binary against one database, on a free port."""

    def __init__(self, binary: str, db_name: str, jwt_secret: str = JWT_SECRET):
        self.binary = binary
        self.db_name = db_name
        self.jwt_secret = jwt_secret
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None
        self._dir = tempfile.mkdtemp(prefix="postgrest_")
        self.log_path = Path(self._dir) / "postgrest.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> "PostgrestServer":
        config = Path(self._dir) / "postgrest.conf"
        config.write_text(
            f'db-uri = "postgresql://authenticator@127.0.0.1:5432/{self.db_name}"\n'
            'db-schemas = "public"\n'
            'db-anon-role = "anon"\n'
            f'jwt-secret = "{self.jwt_secret}"\n'
            'server-host = "127.0.0.1"\n'
            f"server-port = {self.port}\n"
            "db-pool = 10\n"
            'log-level = "error"\n'
        )
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen([self.binary, str(config)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if not wait_for_port(self.port, timeout, alive=lambda: self.process.poll() is None):
            output = self.log_path.read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"PostgREST did not start on port {self.port}:\n{output}")
        self._wait_schema_ready(timeout)
        return self

    def _wait_schema_ready(self, timeout: float) -> None:
        """The port opens before the schema cache loads; PostgREST answers 503 until then."""
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/", timeout=1).status_code < 500:
                    return
            time.sleep(0.05)
        raise RuntimeError("PostgREST never loaded its schema cache")

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop the process, stay away `down_seconds`, start again on the same port (an outage)."""
        self.process.terminate()
        self.process.wait(10)
        time.sleep(down_seconds)
        self.start()

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None
        shutil.rmtree(self._dir, ignore_errors=True)


# ---- the Storage stand-in ------------------------------------------------------------------------

@dataclass
class StoredObject:
    data: bytes
    content_type: str


@dataclass
class StorageStandIn:
    """In-memory stand-in for Supabase Storage's object endpoints (not the real server).

    Behaves like storage-api where our code depends on it: service_role key needed to write or sign,
    404 for an unknown bucket, 409 for an existing object without x-upsert, public reads only from
    public buckets, signed URLs relative to /storage/v1 with a token.
    """

    jwt_secret: str = JWT_SECRET
    buckets: dict = field(default_factory=lambda: {"videos": True})   # name -> public?
    objects: dict = field(default_factory=dict)                       # (bucket, key) -> StoredObject
    requests: list = field(default_factory=list)                      # (method, path, content_type)
    _failures: list = field(default_factory=list)                     # statuses to answer next

    def fail_next(self, times: int, status: int = 503) -> None:
        self._failures.extend([status] * times)

    def uploads(self) -> list:
        return [r for r in self.requests if r[0] in ("POST", "PUT") and "/sign/" not in r[1]]

    # handlers are attached to the gateway's aiohttp app
    def routes(self, web):
        return [
            web.post("/storage/v1/object/sign/{bucket}/{key:.+}", self._sign),
            web.get("/storage/v1/object/sign/{bucket}/{key:.+}", self._get_signed),
            web.get("/storage/v1/object/public/{bucket}/{key:.+}", self._get_public),
            web.post("/storage/v1/object/{bucket}/{key:.+}", self._upload),
            web.put("/storage/v1/object/{bucket}/{key:.+}", self._upload),
        ]

    @staticmethod
    def _error(web, status: int, message: str):
        return web.json_response({"statusCode": str(status), "error": message, "message": message},
                                 status=status)

    def _role(self, request) -> Optional[str]:
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer "):] if header.startswith("Bearer ") else request.headers.get("apikey", "")
        return jwt_role(token, self.jwt_secret) if token else None

    def _injected_failure(self, web):
        if self._failures:
            return self._error(web, self._failures.pop(0), "injected failure (stand-in)")
        return None

    async def _upload(self, request):
        from aiohttp import web

        bucket, key = request.match_info["bucket"], request.match_info["key"]
        body = await request.read()
        self.requests.append((request.method, request.path, request.headers.get("Content-Type")))
        failure = self._injected_failure(web)
        if failure is not None:
            return failure
        if self._role(request) != "service_role":
            return self._error(web, 403, "new row violates row-level security policy")
        if bucket not in self.buckets:
            return self._error(web, 404, "Bucket not found")
        upsert = request.headers.get("x-upsert", "false").lower() == "true"
        if (bucket, key) in self.objects and not upsert:
            return self._error(web, 409, "The resource already exists")
        content_type = request.headers.get("Content-Type", "application/octet-stream")
        self.objects[(bucket, key)] = StoredObject(body, content_type)
        return web.json_response({"Key": f"{bucket}/{key}", "Id": str(uuid.uuid4())})

    def _serve(self, web, bucket: str, key: str):
        stored = self.objects.get((bucket, key))
        if stored is None:
            return self._error(web, 404, "Object not found")
        return web.Response(body=stored.data, content_type=stored.content_type.split(";")[0])

    async def _get_public(self, request):
        from aiohttp import web

        bucket, key = request.match_info["bucket"], request.match_info["key"]
        self.requests.append(("GET", request.path, None))
        failure = self._injected_failure(web)
        if failure is not None:
            return failure
        if not self.buckets.get(bucket):
            return self._error(web, 400, "Bucket is not public")
        return self._serve(web, bucket, key)

    async def _sign(self, request):
        from aiohttp import web

        bucket, key = request.match_info["bucket"], request.match_info["key"]
        self.requests.append(("POST", request.path, request.headers.get("Content-Type")))
        failure = self._injected_failure(web)
        if failure is not None:
            return failure
        if self._role(request) != "service_role":
            return self._error(web, 403, "not allowed to sign")
        if (bucket, key) not in self.objects:
            return self._error(web, 404, "Object not found")
        seconds = int((await request.json()).get("expiresIn", 60))
        token = jwt.encode({"url": f"{bucket}/{key}", "exp": int(time.time()) + seconds},
                           self.jwt_secret, algorithm="HS256")
        path = "/".join(quote(p, safe="") for p in [bucket, *key.split("/")])
        return web.json_response({"signedURL": f"/object/sign/{path}?token={token}"})

    async def _get_signed(self, request):
        from aiohttp import web

        bucket, key = request.match_info["bucket"], request.match_info["key"]
        self.requests.append(("GET", request.path, None))
        try:
            claims = jwt.decode(request.query.get("token", ""), self.jwt_secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            return self._error(web, 400, "invalid signature")
        if claims.get("url") != f"{bucket}/{key}":
            return self._error(web, 400, "token is for another object")
        return self._serve(web, bucket, key)


# ---- the gateway ---------------------------------------------------------------------------------

_HOP_HEADERS = {"host", "connection", "keep-alive", "transfer-encoding", "content-length",
                "content-encoding", "upgrade", "proxy-connection", "te", "trailer"}


class Gateway:
    """Supabase's URL layout on one localhost port: /rest/v1/* -> PostgREST, /storage/v1/* -> stand-in."""

    def __init__(self, postgrest_url: Optional[str] = None, storage: Optional[StorageStandIn] = None):
        self.postgrest_url = postgrest_url
        self.storage = storage
        self.port = free_port()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner = None
        self._session = None
        self._thread: Optional[threading.Thread] = None
        self.rest_requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _proxy(self, request):
        from aiohttp import web

        self.rest_requests += 1
        target = f"{self.postgrest_url}/{request.match_info['tail']}"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        body = await request.read()
        import aiohttp

        try:
            async with self._session.request(request.method, target, params=request.query, headers=headers,
                                             data=body or None, allow_redirects=False) as upstream:
                payload = await upstream.read()
                out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
                return web.Response(status=upstream.status, body=payload, headers=out_headers)
        except aiohttp.ClientError:  # PostgREST is down: answer as Supabase's gateway does
            return web.Response(status=502, text="An invalid response was received from the upstream server")

    def start(self) -> "Gateway":
        from aiohttp import web

        ready = threading.Event()
        errors: list = []

        async def setup():
            import aiohttp

            app = web.Application(client_max_size=1024**3)
            if self.postgrest_url:
                self._session = aiohttp.ClientSession(auto_decompress=False)
                app.router.add_route("*", "/rest/v1/{tail:.*}", self._proxy)
            if self.storage is not None:
                app.router.add_routes(self.storage.routes(web))
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

        def run():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(setup())
            except Exception as exc:  # reported to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="supabase-gateway", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def teardown():
            if self._session is not None:
                await self._session.close()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(teardown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None


# ---- a whole stack -------------------------------------------------------------------------------

@dataclass
class SupabaseStack:
    url: str                 # SUPABASE_URL
    service_key: str         # SUPABASE_SERVICE_KEY
    anon_key: str
    database_url: str        # the same database, for checks made directly in SQL
    storage: StorageStandIn
    gateway: Gateway
    postgrest: Optional[PostgrestServer]

    def settings(self, **overrides):
        from source.config import Settings

        values = dict(db_type="supabase", supabase_url=self.url, supabase_service_key=self.service_key)
        values.update(overrides)
        return Settings(**values)

    def env(self) -> dict:
        """Environment for worker subprocesses."""
        return {"DB_TYPE": "supabase", "SUPABASE_URL": self.url, "SUPABASE_SERVICE_KEY": self.service_key}


@contextlib.contextmanager
def storage_only_stack() -> Iterator[SupabaseStack]:
    """The gateway with the Storage stand-in only (no database): enough for upload tests."""
    storage = StorageStandIn()
    gateway = Gateway(storage=storage).start()
    try:
        yield SupabaseStack(url=gateway.url, service_key=mint_jwt("service_role"), anon_key=mint_jwt("anon"),
                            database_url="", storage=storage, gateway=gateway, postgrest=None)
    finally:
        gateway.stop()


@contextlib.contextmanager
def supabase_stack(migrate: Callable[[str], None] = apply_migrations) -> Iterator[SupabaseStack]:
    """Fresh database + migrations + PostgREST + gateway with the Storage stand-in."""
    binary = postgrest_binary()
    if binary is None:
        skip_or_fail("PostgREST binary not found (run scripts/install_test_services.sh, or set POSTGREST_BIN)")
    with temporary_postgres_database("wq_supabase") as dsn:
        ensure_supabase_roles()
        migrate(dsn)
        postgrest = PostgrestServer(binary, conninfo_to_dict(dsn)["dbname"]).start()
        storage = StorageStandIn()
        gateway = Gateway(postgrest_url=postgrest.url, storage=storage).start()
        try:
            yield SupabaseStack(url=gateway.url, service_key=mint_jwt("service_role"),
                                anon_key=mint_jwt("anon"), database_url=dsn, storage=storage,
                                gateway=gateway, postgrest=postgrest)
        finally:
            gateway.stop()
            postgrest.stop()


# ---- the queue test-suite on the supabase backend (tests/helpers/queue.py) -----------------------

def target_location(url: str, key: str, dsn: str) -> str:
    """A supabase QueueTarget's location: one string, so it can be handed to subprocesses."""
    import json

    return json.dumps({"url": url, "key": key, "dsn": dsn})


def parse_location(location: str) -> dict:
    import json

    return json.loads(location)


def target_settings(location: str):
    """Settings for a supabase target. DATABASE_URL is set too, so `migrate()` can install the schema
    in an empty database; every queue operation still goes through PostgREST."""
    from source.config import Settings

    where = parse_location(location)
    return Settings(db_type="supabase", supabase_url=where["url"], supabase_service_key=where["key"],
                    database_url=where["dsn"])


class RestEndpoints:
    """PostgREST + gateway for each database a queue test creates; all stopped by stop_all()."""

    def __init__(self) -> None:
        self.running: list[tuple[PostgrestServer, Gateway]] = []

    def location_for(self, dsn: str) -> str:
        binary = postgrest_binary()
        if binary is None:
            skip_or_fail("PostgREST binary not found (run scripts/install_test_services.sh, or set POSTGREST_BIN)")
        ensure_supabase_roles()
        from psycopg.conninfo import conninfo_to_dict

        postgrest = PostgrestServer(binary, conninfo_to_dict(dsn)["dbname"]).start()
        gateway = Gateway(postgrest_url=postgrest.url, storage=StorageStandIn()).start()
        self.running.append((postgrest, gateway))
        return target_location(gateway.url, mint_jwt("service_role"), dsn)

    def stop_all(self) -> None:
        running, self.running = self.running, []
        for postgrest, gateway in running:
            gateway.stop()
            postgrest.stop()
