"""Inputs given as http(s) URLs: downloaded with a timeout and a size limit into a given folder.

A partial download never takes the final name (written to *.partial, renamed when complete).
Timeouts, dropped connections, 429 and 5xx answers are tried again a few times with back-off (an output
of an earlier row may sit in a storage bucket behind a busy gateway), and the task after that is retried
too (DownloadError is transient). A host that does not exist or refuses the connection is tried once more
after a moment and then is UnreachableURL: the task fails at once, since retrying it later rarely helps
and a person must fix the URL. Other answers fail at once. Messages name the URL with its port, never
its credentials or query.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from urllib.parse import urlparse

import requests

from ..errors import TransientError, UserError
from ..retry import Backoff, retrying
from .outputs import safe_name

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_BYTES = 2 * 1024**3  # 2 GiB
DEFAULT_RETRIES = 2               # tries after the first, for transient failures only
RETRY_DELAY_S = 1.0               # doubled each time
UNREACHABLE_RETRIES = 1           # a refused connection or an unknown host: one more try, then fail

log = logging.getLogger(__name__)


class DownloadError(TransientError):
    """A URL that could not be fetched (retried with back-off as a task failure); the message names
    the URL, never credentials."""


class _Transient(DownloadError):
    """A failure worth another try (no answer, 429, 5xx)."""


class _Unreachable(_Transient):
    """No connection at all: the host is unknown or refused it."""


class UnreachableURL(UserError):
    """A URL whose host does not exist or refuses connections (after one more try): the task fails at once."""


# what requests says when no connection was made (the name did not resolve, or the port refused it)
_NO_CONNECTION = (("Name or service not known", "unknown host"), ("nodename nor servname", "unknown host"),
                  ("Temporary failure in name resolution", "unknown host"), ("NameResolutionError", "unknown host"),
                  ("No address associated with hostname", "unknown host"),
                  ("Connection refused", "connection refused"))


def is_url(value: object) -> bool:
    return isinstance(value, str) and value.split("://", 1)[0].lower() in ("http", "https")


def _display(url: str) -> str:
    """The URL as messages show it: scheme, host, port and path; no user:password, no query tokens."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parsed.port}" if parsed.port is not None else ""
    except ValueError:
        port = ""
    return f"{parsed.scheme}://{host}{port}{parsed.path}"


def download_url(url: str, dest_dir: Path, *, timeout: float = DEFAULT_TIMEOUT_S,
                 max_bytes: int = DEFAULT_MAX_BYTES, filename: str | None = None,
                 retries: int = DEFAULT_RETRIES, retry_delay: float = RETRY_DELAY_S) -> Path:
    """Fetch `url` into `dest_dir` and return the file's path. Same URL, same name (cached)."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    base = os.path.basename(urlparse(url).path) or "download"
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    target = dest_dir / (filename or f"{digest}_{safe_name(base)}")
    if target.is_file():
        return target
    backoff = Backoff(attempts=retries + 1, first_delay=retry_delay, max_delay=60.0)
    unreachable = [0]

    def worth_another_try(exc: BaseException) -> bool:
        if isinstance(exc, _Unreachable):
            unreachable[0] += 1
            return unreachable[0] <= UNREACHABLE_RETRIES
        return isinstance(exc, _Transient)

    try:
        retrying(lambda: _fetch(url, target, timeout=timeout, max_bytes=max_bytes), backoff,
                 should_retry=worth_another_try, logger=log)
    except _Unreachable as exc:
        raise UnreachableURL(str(exc)) from None
    except _Transient as exc:
        raise DownloadError(str(exc)) from None
    return target


def _fetch(url: str, target: Path, *, timeout: float, max_bytes: int) -> None:
    partial = target.with_name(target.name + ".partial")
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            if response.status_code == 429 or response.status_code >= 500:
                raise _Transient(f"download failed: {_display(url)} answered HTTP {response.status_code}")
            if response.status_code >= 400:
                raise DownloadError(f"download failed: {_display(url)} answered HTTP {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise DownloadError(f"download refused: {_display(url)} is {int(declared)} bytes, "
                                    f"over the {max_bytes}-byte limit")
            written = 0
            with open(partial, "wb") as fh:
                for chunk in response.iter_content(chunk_size=1 << 20):
                    written += len(chunk)
                    if written > max_bytes:
                        raise DownloadError(f"download refused: {_display(url)} exceeds the "
                                            f"{max_bytes}-byte limit")
                    fh.write(chunk)
    except requests.ConnectionError as exc:
        partial.unlink(missing_ok=True)
        reason = next((why for text, why in _NO_CONNECTION if text in str(exc)), None)
        if reason is not None:
            raise _Unreachable(f"download failed: {_display(url)}: {reason}") from None
        raise _Transient(f"download failed: {_display(url)} did not answer ({type(exc).__name__})") from None
    except requests.RequestException as exc:
        partial.unlink(missing_ok=True)
        raise _Transient(f"download failed: {_display(url)} did not answer ({type(exc).__name__})") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)


def resolve_input(path_or_url: str, dest_dir: Path, **limits) -> Path:
    """A local path (must exist) or a URL (downloaded into dest_dir) -> a local file path."""
    if is_url(path_or_url):
        return download_url(path_or_url, dest_dir, **limits)
    path = Path(path_or_url).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"input file not found: {path_or_url}")
    return path
