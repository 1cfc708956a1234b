"""A URL input whose host refuses the connection or does not exist: tried once more after a moment, then one
line naming the flag or key the person wrote and the URL with its port; the task fails at once (not retried)."""
from __future__ import annotations

import logging
import socket

import pytest

from source.errors import is_transient, is_user_error
from source.storage.downloads import UnreachableURL, _display, download_url
from source.tasks.params import flag_of
from source.workflows.registry import params_model
from tests.helpers.perspective import make_context


def refused_port() -> int:
    """A port on this machine that nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_is_tried_once_more_then_fails_for_good(tmp_path, caplog):
    port = refused_port()
    caplog.set_level(logging.INFO)
    with pytest.raises(UnreachableURL) as info:
        download_url(f"http://user:secret@127.0.0.1:{port}/in/anchor.png?token=abc", tmp_path, retries=2,
                     retry_delay=0.01)
    message = str(info.value)
    assert message == f"download failed: http://127.0.0.1:{port}/in/anchor.png: connection refused"
    assert is_user_error(info.value) and not is_transient(info.value), "the task fails at once"
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == 1, "one more try, not the transient retries"
    assert all(r.exc_info is None for r in caplog.records), "no traceback"
    assert not list(tmp_path.iterdir())


def test_an_unknown_host_is_one_line_naming_it(tmp_path):
    with pytest.raises(UnreachableURL, match=r"^download failed: http://no-such-host\.invalid:8443/a\.png: "
                                             r"unknown host$"):
        download_url("http://no-such-host.invalid:8443/a.png", tmp_path, retry_delay=0.01)


def test_urls_are_shown_with_their_port_and_without_credentials():
    assert _display("https://u:p@[::1]:9000/x.mp4?sig=1") == "https://[::1]:9000/x.mp4"
    assert _display("http://example.com/x.mp4") == "http://example.com/x.mp4"


def test_the_error_names_the_flag_and_the_key_the_person_wrote(tmp_path):
    assert flag_of(params_model("travel_orchestrator"), "input_image_paths_resolved[1]") == "--input_images #2"
    assert flag_of(params_model("travel_orchestrator"), "no_such_field") is None
    url = f"http://127.0.0.1:{refused_port()}/person.png"
    ctx = make_context(tmp_path, "different_perspective_orchestrator", {"input_image_path": url, "prompt": "x"})
    with pytest.raises(UnreachableURL) as info:
        ctx.local_file("input_image_path", url)
    assert str(info.value).startswith(f"--input_image (input_image_path): download failed: {url}: connection")
    assert info.value.field == "input_image_path"
