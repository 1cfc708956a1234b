"""pgbouncer in transaction mode in front of the test PostgreSQL (127.0.0.1:5432), as a fleet would run it.

The real pgbouncer (Debian's package, installed by scripts/install_test_services.sh) is started once per
test session on a free port with its own configuration: every database name is passed through to the
server (`* =`), trust authentication, `pool_mode = transaction`. Run as root (as CI does), it drops to
the `postgres` user, since pgbouncer refuses to run as root. Missing binary: tests skip with the reason,
or fail when REQUIRE_SERVICES=1.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .services import PG_ADMIN_DSN, skip_or_fail, stop_process
from .supabase import free_port, wait_for_port

POOL_SIZE = 20


def pgbouncer_binary() -> Optional[str]:
    for candidate in (os.environ.get("PGBOUNCER_BIN"), shutil.which("pgbouncer"), "/usr/sbin/pgbouncer"):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class Pgbouncer:
    """One pgbouncer process; `dsn(database_dsn)` is the same database reached through it."""

    def __init__(self, binary: str, server_dsn: str = PG_ADMIN_DSN, pool_size: int = POOL_SIZE,
                 max_clients: int = 1000, users: tuple[str, ...] = ("postgres", "authenticator")) -> None:
        self.binary = binary
        self.users = users
        self.server = conninfo_to_dict(server_dsn)
        self.pool_size = pool_size
        self.max_clients = max_clients
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pgbouncer_"))
        self.process: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 15.0) -> "Pgbouncer":
        host, port = self.server.get("host", "127.0.0.1"), self.server.get("port", "5432")
        (self.dir / "userlist.txt").write_text("".join(f'"{user}" ""\n' for user in self.users))
        lines = [
            "[databases]", f"* = host={host} port={port}", "",
            "[pgbouncer]", "listen_addr = 127.0.0.1", f"listen_port = {self.port}", "unix_socket_dir =",
            "auth_type = trust", f"auth_file = {self.dir / 'userlist.txt'}",
            "pool_mode = transaction", f"default_pool_size = {self.pool_size}",
            f"max_client_conn = {self.max_clients}", "admin_users = postgres",
            f"logfile = {self.dir / 'pgbouncer.log'}", f"pidfile = {self.dir / 'pgbouncer.pid'}",
        ]
        if os.geteuid() == 0:  # pgbouncer will not run as root: it switches to this user
            user = pwd.getpwnam("postgres")
            lines.append("user = postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            for path in self.dir.iterdir():
                os.chown(path, user.pw_uid, user.pw_gid)
        config = self.dir / "pgbouncer.ini"
        config.write_text("\n".join(lines) + "\n")
        os.chmod(self.dir, 0o755)
        self.process = subprocess.Popen([self.binary, str(config)], stdout=subprocess.DEVNULL,
                                        stderr=open(self.dir / "stderr.log", "wb"))
        if not wait_for_port(self.port, timeout, alive=lambda: self.process.poll() is None):
            output = "\n".join(p.read_text(errors="replace")[-1500:] for p in self.dir.glob("*.log"))
            self.stop()
            raise RuntimeError(f"pgbouncer did not start on port {self.port}:\n{output}")
        return self

    def dsn(self, database_dsn: str) -> str:
        """`database_dsn`'s database, reached through this pgbouncer."""
        params = conninfo_to_dict(database_dsn)
        params.update(host="127.0.0.1", port=str(self.port))
        return make_conninfo(**params)

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)


_running: dict[str, Pgbouncer] = {}


def session_pgbouncer() -> Pgbouncer:
    """The session's pgbouncer, started on first use (stopped by the `pgbouncer` fixture's session end)."""
    if "session" not in _running:
        binary = pgbouncer_binary()
        if binary is None:
            skip_or_fail("pgbouncer not found (run scripts/install_test_services.sh as root, or set PGBOUNCER_BIN)")
        _running["session"] = Pgbouncer(binary).start()
    return _running["session"]


@pytest.fixture(scope="session", autouse=True)
def _stop_pgbouncer_at_the_end():
    yield
    for bouncer in _running.values():
        bouncer.stop()
    _running.clear()


def server_connections(database: str, admin_dsn: str = PG_ADMIN_DSN) -> int:
    """Client backends connected to `database` now (through pgbouncer: its server connections)."""
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        [(count,)] = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                                  "AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                                  (database,)).fetchall()
    return int(count)
