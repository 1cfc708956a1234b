"""URL inputs: earlier outputs stored in a bucket come back through download_url.

Served by the Storage stand-in of tests/helpers/supabase.py (a real HTTP server on localhost).
"""
from __future__ import annotations

import pytest

from tests.helpers.supabase import StoredObject, storage_only_stack
from source.storage.downloads import DownloadError, download_url, resolve_input


@pytest.fixture
def stack():
    with storage_only_stack() as stack:
        stack.storage.objects[("videos", "t1/seg00.mp4")] = StoredObject(b"frames" * 500, "video/mp4")
        yield stack


def _url(stack, key: str) -> str:
    return f"{stack.url}/storage/v1/object/public/videos/{key}"


def test_url_input_downloads_into_the_run_folder_once(stack, tmp_path):
    url = _url(stack, "t1/seg00.mp4")
    path = resolve_input(url, tmp_path / "run")
    assert path.parent == tmp_path / "run" and path.name.endswith("seg00.mp4")
    assert path.read_bytes() == b"frames" * 500
    gets = len(stack.storage.requests)
    assert download_url(url, tmp_path / "run") == path          # cached: same URL, same file
    assert len(stack.storage.requests) == gets
    assert not list((tmp_path / "run").glob("*.partial"))


def test_transient_5xx_is_retried(stack, tmp_path):
    stack.storage.fail_next(2, status=503)
    path = download_url(_url(stack, "t1/seg00.mp4"), tmp_path, retries=2, retry_delay=0.01)
    assert path.read_bytes() == b"frames" * 500
    assert len(stack.storage.requests) == 3


def test_transient_errors_give_up_after_the_retries(stack, tmp_path):
    stack.storage.fail_next(5, status=502)
    with pytest.raises(DownloadError, match="HTTP 502"):
        download_url(_url(stack, "t1/seg00.mp4"), tmp_path, retries=1, retry_delay=0.01)
    assert len(stack.storage.requests) == 2
    assert not list(tmp_path.iterdir())


def test_missing_object_fails_at_once_naming_the_url_without_the_token(stack, tmp_path):
    url = f"{stack.url}/storage/v1/object/sign/videos/t1/nothing.mp4?token=SECRET-TOKEN"
    with pytest.raises(DownloadError) as info:
        download_url(url, tmp_path, retries=3, retry_delay=0.01)
    assert "nothing.mp4" in str(info.value) and "HTTP 400" in str(info.value)
    assert "SECRET-TOKEN" not in str(info.value)
    assert len(stack.storage.requests) == 1


def test_size_limit(stack, tmp_path):
    with pytest.raises(DownloadError, match="limit"):
        download_url(_url(stack, "t1/seg00.mp4"), tmp_path, max_bytes=100)
    assert not list(tmp_path.iterdir())


def test_local_path_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        resolve_input(str(tmp_path / "missing.png"), tmp_path)
