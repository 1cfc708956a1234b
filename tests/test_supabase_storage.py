"""Output upload to Supabase Storage, against the local Storage stand-in (tests/helpers/supabase.py).

The stand-in is not Supabase Storage; it answers the object endpoints the way storage-api does, so
these tests check what our side sends and does: object path, content type, retries on 5xx, the URL.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests

from tests.helpers.supabase import mint_jwt, storage_only_stack
from source.storage.downloads import download_url
from source.storage.outputs import publish_output
from source.storage.supabase_storage import (
    RetryPolicy, UploadError, content_type_for, object_path, upload_output,
)

FAST = RetryPolicy(attempts=4, first_delay_s=0.01, max_delay_s=0.05, timeout_s=10)


@pytest.fixture
def stack():
    with storage_only_stack() as stack:
        yield stack


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_upload_stores_object_under_task_id_with_content_type_and_returns_public_url(stack, tmp_path):
    video = _file(tmp_path, "run1_final.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    url = upload_output(stack.settings(), "task-123", video, policy=FAST)

    assert url == f"{stack.url}/storage/v1/object/public/videos/task-123/run1_final.mp4"
    stored = stack.storage.objects[("videos", "task-123/run1_final.mp4")]
    assert stored.data == video.read_bytes()
    assert stored.content_type == "video/mp4"
    # the URL on the row serves the same bytes to anyone (public bucket)
    fetched = requests.get(url, timeout=5)
    assert fetched.status_code == 200 and fetched.content == video.read_bytes()
    assert fetched.headers["Content-Type"].startswith("video/mp4")
    assert video.is_file()  # the local file stays


def test_upload_uses_configured_bucket_and_image_content_type(stack, tmp_path):
    stack.storage.buckets["renders"] = True
    image = _file(tmp_path, "frame.png", b"\x89PNG\r\n\x1a\n" + b"x" * 100)
    url = upload_output(stack.settings(supabase_video_bucket="renders"), "t2", image, policy=FAST)
    assert url.endswith("/object/public/renders/t2/frame.png")
    assert stack.storage.objects[("renders", "t2/frame.png")].content_type == "image/png"


def test_upload_retries_on_5xx_then_succeeds(stack, tmp_path, caplog):
    stack.storage.fail_next(2, status=503)
    video = _file(tmp_path, "a.mp4", b"video-bytes" * 100)
    sleeps: list[float] = []
    with caplog.at_level(logging.WARNING):
        url = upload_output(stack.settings(), "t3", video, policy=FAST, sleep=sleeps.append)
    assert len(stack.storage.uploads()) == 3                 # two 503s, then the one that worked
    assert sleeps == [0.01, 0.02]                            # exponential back-off between tries
    assert stack.storage.objects[("videos", "t3/a.mp4")].data == video.read_bytes()
    assert url.endswith("/videos/t3/a.mp4")
    assert stack.service_key not in caplog.text


def test_upload_gives_up_after_the_last_try_and_keeps_the_file(stack, tmp_path):
    stack.storage.fail_next(10, status=502)
    video = _file(tmp_path, "b.mp4", b"data" * 10)
    with pytest.raises(UploadError) as info:
        upload_output(stack.settings(), "t4", video, policy=FAST, sleep=lambda s: None)
    message = str(info.value)
    assert "b.mp4" in message and "videos" in message and "4 tries" in message and "502" in message
    assert stack.service_key not in message
    assert len(stack.storage.uploads()) == 4
    assert video.read_bytes() == b"data" * 10
    assert ("videos", "t4/b.mp4") not in stack.storage.objects


def test_permanent_error_is_not_retried(stack, tmp_path):
    video = _file(tmp_path, "c.mp4", b"x")
    with pytest.raises(UploadError, match="Bucket not found"):
        upload_output(stack.settings(supabase_video_bucket="missing"), "t5", video, policy=FAST,
                      sleep=lambda s: None)
    assert len(stack.storage.uploads()) == 1


def test_anon_key_cannot_upload_and_the_key_is_not_in_the_error(stack, tmp_path):
    video = _file(tmp_path, "d.mp4", b"x")
    settings = stack.settings(supabase_service_key=stack.anon_key)
    with pytest.raises(UploadError, match="403") as info:
        upload_output(settings, "t6", video, policy=FAST)
    assert stack.anon_key not in str(info.value)
    assert not stack.storage.objects


def test_connection_refused_is_retried_then_reported(tmp_path):
    from source.config import Settings
    from tests.helpers.supabase import free_port

    settings = Settings(db_type="supabase", supabase_url=f"http://127.0.0.1:{free_port()}",
                        supabase_service_key=mint_jwt("service_role"))
    video = _file(tmp_path, "e.mp4", b"x")
    sleeps: list[float] = []
    with pytest.raises(UploadError, match="no answer") as info:
        upload_output(settings, "t7", video, policy=FAST, sleep=sleeps.append)
    assert len(sleeps) == FAST.attempts - 1
    assert settings.supabase_service_key not in str(info.value)
    assert video.is_file()


def test_signed_url_for_private_bucket(stack, tmp_path):
    stack.storage.buckets["private"] = False
    video = _file(tmp_path, "f.mp4", b"secret-video")
    settings = stack.settings(supabase_video_bucket="private", supabase_signed_url_seconds=600)
    url = upload_output(settings, "t8", video, policy=FAST)
    assert url.startswith(f"{stack.url}/storage/v1/object/sign/private/t8/f.mp4?token=")
    assert requests.get(url, timeout=5).content == b"secret-video"
    # the public form of the same object is refused: the bucket is private
    public = f"{stack.url}/storage/v1/object/public/private/t8/f.mp4"
    assert requests.get(public, timeout=5).status_code >= 400


def test_publish_output_uploads_in_supabase_mode_and_the_url_downloads_back(stack, tmp_path):
    video = _file(tmp_path, "seg00.mp4", b"segment" * 1000)
    location = publish_output(stack.settings(), "seg-task", str(video))
    assert location.startswith("http://") and location.endswith("/seg-task/seg00.mp4")
    # a later stage on another machine fetches it through the URL-input path
    fetched = download_url(location, tmp_path / "elsewhere")
    assert fetched.read_bytes() == video.read_bytes()
    # already a URL: left as it is
    assert publish_output(stack.settings(), "x", location) == location


def test_object_path_and_content_types():
    assert object_path("abc", "out.mp4") == "abc/out.mp4"
    for bad in ("../x", "a/b", ""):
        with pytest.raises(UploadError):
            object_path("abc", bad)
    with pytest.raises(UploadError):
        object_path("..", "out.mp4")
    assert content_type_for(Path("x.MP4")) == "video/mp4"
    assert content_type_for(Path("x.jpg")) == "image/jpeg"
    assert content_type_for(Path("x.webm")) == "video/webm"
    assert content_type_for(Path("x.unknownext")) == "application/octet-stream"
