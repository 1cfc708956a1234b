"""Supabase Storage: upload a finished task's artefact and return the URL stored on its row.

The object goes to bucket `settings.supabase_video_bucket` as `{task_id}/{file name}`, with the content
type of the file. The row gets the bucket's public URL, or a signed URL when
`settings.supabase_signed_url_seconds > 0` (private buckets).

Uploads retry on connection errors, timeouts, 429 and 5xx answers with exponential back-off; any other
answer (bucket missing, key refused, ...) is not tried again. A failed upload raises an `UploadError`
(source/errors.py) with a message a person understands (never the key), of the kind that says what
happens to the row: `UploadUnanswered` (retried), `UploadRefused` (this worker's storage settings: the row
goes back) or `UnstorableName`; the local file is not touched, so nothing is lost.

Speaks the Storage HTTP API directly (`POST /storage/v1/object/{bucket}/{path}` with the raw body,
`POST /storage/v1/object/sign/{bucket}/{path}`) so the file streams from disk and each attempt has a
timeout of its own.
"""
from __future__ import annotations

import logging
import mimetypes
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote

import requests

from ..config import Settings
from ..errors import TransientError, UnstorableName, UploadError, UploadRefused, UploadUnanswered
from ..retry import Backoff, retrying

log = logging.getLogger(__name__)

# Types browsers and players need right; mimetypes covers the rest.
_CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".mov": "video/quicktime",
    ".gif": "image/gif",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".json": "application/json",
    ".safetensors": "application/octet-stream",
}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5              # total tries
    first_delay_s: float = 1.0     # then doubled each time
    max_delay_s: float = 15.0
    timeout_s: float = 300.0       # per request (a large video on a slow link)

    @property
    def backoff(self) -> Backoff:
        return Backoff(attempts=self.attempts, first_delay=self.first_delay_s, max_delay=self.max_delay_s)


DEFAULT_RETRY = RetryPolicy()


def content_type_for(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def object_path(task_id: str, file_name: str) -> str:
    """`{task_id}/{file}`; neither part may climb or nest (they come from rows and handlers)."""
    for part, what in ((task_id, "task id"), (file_name, "file name")):
        if not part or "/" in part or "\\" in part or part in (".", ".."):
            raise UnstorableName(f"cannot store an object with {what} {part!r}")
    return f"{task_id}/{file_name}"


def _quoted(bucket: str, key: str) -> str:
    return "/".join(quote(part, safe="") for part in [bucket, *key.split("/")])


def _base_url(settings: Settings) -> str:
    if not settings.supabase_url:
        raise UploadRefused("Supabase storage needs SUPABASE_URL")
    if not settings.supabase_service_key:
        raise UploadRefused("Supabase storage needs SUPABASE_SERVICE_KEY")
    return settings.supabase_url.rstrip("/") + "/storage/v1"


def _auth_headers(key: str) -> dict:
    return {"Authorization": f"Bearer {key}", "apikey": key}


def _is_transient(status: int) -> bool:
    return status == 429 or status >= 500


def _reason(response: requests.Response) -> str:
    """The server's own words (storage-api answers {"error", "message"}), short."""
    try:
        body = response.json()
        text = body.get("message") or body.get("error") or ""
    except ValueError:
        text = response.text
    return " ".join(str(text).split())[:200]


class _TryAgain(TransientError):
    """No answer, or an answer worth another try (429, 5xx); the message says which."""


def _with_retries(describe: str, send: Callable[[], requests.Response], policy: RetryPolicy,
                  sleep: Callable[[float], None]) -> requests.Response:
    """Run `send` until a non-transient answer: UploadRefused for a refusal, UploadUnanswered after the
    last try."""
    def once() -> requests.Response:
        try:
            response = send()
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _TryAgain(f"no answer ({type(exc).__name__})") from None
        if response.status_code < 300:
            return response
        answer = f"HTTP {response.status_code} {_reason(response)}".strip()
        if not _is_transient(response.status_code):
            raise UploadRefused(f"{describe} failed: {answer}")
        raise _TryAgain(answer)

    try:
        return retrying(once, policy.backoff, should_retry=lambda exc: isinstance(exc, _TryAgain), what=describe,
                        sleep=sleep, logger=log)
    except _TryAgain as exc:
        raise UploadUnanswered(f"{describe} failed after {policy.attempts} tries: {exc}") from None


def public_url(settings: Settings, key: str) -> str:
    return f"{_base_url(settings)}/object/public/{_quoted(settings.supabase_video_bucket, key)}"


def signed_url(settings: Settings, key: str, seconds: int, *, policy: RetryPolicy = DEFAULT_RETRY,
               sleep: Callable[[float], None] = time.sleep) -> str:
    base = _base_url(settings)
    url = f"{base}/object/sign/{_quoted(settings.supabase_video_bucket, key)}"
    headers = _auth_headers(settings.supabase_service_key)
    response = _with_retries(
        f"signing {settings.supabase_video_bucket}/{key}",
        lambda: requests.post(url, json={"expiresIn": int(seconds)}, headers=headers,
                              timeout=policy.timeout_s),
        policy, sleep)
    try:
        relative = response.json()["signedURL"]
    except (ValueError, KeyError, TypeError):
        raise UploadUnanswered(f"signing {settings.supabase_video_bucket}/{key} failed: "
                          f"the answer had no signedURL") from None
    # storage-api answers a path relative to /storage/v1 ("/object/sign/...?token=...").
    return relative if "://" in relative else base + "/" + relative.lstrip("/")


def upload_output(settings: Settings, task_id: str, path: Path, *, policy: RetryPolicy = DEFAULT_RETRY,
                  sleep: Callable[[float], None] = time.sleep) -> str:
    """Upload `path` as `{task_id}/{path.name}` and return the URL for the row's output_location."""
    path = Path(path)
    if not path.is_file():
        raise UploadError(f"output file not found for upload: {path}")
    bucket = settings.supabase_video_bucket
    key = object_path(task_id, path.name)
    url = f"{_base_url(settings)}/object/{_quoted(bucket, key)}"
    headers = {
        **_auth_headers(settings.supabase_service_key),
        "Content-Type": content_type_for(path),
        "x-upsert": "true",          # a retry after an unclear failure overwrites, never conflicts
        "cache-control": "max-age=3600",
    }

    def send() -> requests.Response:
        with open(path, "rb") as body:  # reopened per try: a half-sent stream is never resumed
            return requests.post(url, data=body, headers=headers, timeout=policy.timeout_s)

    size = path.stat().st_size
    started = time.monotonic()
    _with_retries(f"upload of {path.name} to bucket '{bucket}' as {key}", send, policy, sleep)
    log.info("uploaded %s (%d bytes) to %s/%s in %.1f s", path.name, size, bucket, key,
             time.monotonic() - started)
    seconds = int(settings.supabase_signed_url_seconds or 0)
    if seconds > 0:
        return signed_url(settings, key, seconds, policy=policy, sleep=sleep)
    return public_url(settings, key)


__all__ = ["UploadError", "RetryPolicy", "upload_output", "public_url", "signed_url", "content_type_for",
           "object_path"]

