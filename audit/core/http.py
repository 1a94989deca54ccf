"""One pooled HTTP client for channels, indexes, artifacts and registries.

urllib3's PoolManager (thread-safe, keep-alive per host) with its `Retry`: connection
failures, 429 and 5xx are retried with exponential backoff, honouring `Retry-After`.
Redirects are followed here, never by urllib3, so `Authorization` is never forwarded to
the redirect target (a CDN, object storage). Credentials come from
`audit.core.credentials` unless the caller brings its own header (the registry's tokens).
Every error names the redacted URL only.

`probe` answers "is this URL still there?" with one of OK / GONE / UNREACHABLE / DENIED
(a HEAD, then a ranged GET when HEAD is refused); `download` streams a URL into a file;
`open_range` reads parts of a remote file through Range requests (a wheel's METADATA
without its megabytes).
"""

from __future__ import annotations

import functools
import io
import re
import shutil
import threading
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.core import credentials
from audit.core.errors import AccessDeniedError, InfrastructureError, InputError
from audit.core.fs import atomic_output
from audit.core.redact import redact_url

OK = "ok"
GONE = "gone"
UNREACHABLE = "unreachable"
DENIED = "denied"

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "repro-audit"
CHUNK = 1 << 20
RANGE_CHUNK = 64 * 1024
MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 30.0

_POOL: Any = None
_POOL_LOCK = threading.Lock()


def _pool() -> Any:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            import urllib3

            _POOL = urllib3.PoolManager(maxsize=32, block=False)
        return _POOL


@functools.lru_cache(maxsize=32)
def _retry(retries: int, backoff: float) -> Any:
    """urllib3's Retry for our policy (immutable: shared by every request that uses it)."""
    from urllib3.util.retry import Retry

    class _Capped(Retry):  # a hostile Retry-After must not stall a run for hours
        def get_retry_after(self, response: Any) -> float | None:
            value = super().get_retry_after(response)
            return None if value is None else min(value, MAX_RETRY_AFTER)

    return _Capped(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        redirect=False,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )


@functools.lru_cache(maxsize=32)
def _timeout(seconds: float) -> Any:
    import urllib3

    return urllib3.Timeout(connect=seconds, read=seconds)


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 0.25,
    stream: bool = False,
    auth: bool = True,
) -> Any:
    """Send, retrying transient failures; follow redirects without `Authorization`.

    `auth=True` adds the credential store's answer for `url`. Returns the urllib3
    response (read `.data`, or `.stream()` with `stream=True`, then `.release_conn()`).
    Raises InfrastructureError when the host never answers. After a 401 to a request
    that had no credentials, keyring is asked once for that host.
    """
    sent = {"User-Agent": USER_AGENT, **dict(headers or {})}
    target, extra = credentials.current().authorize(url) if auth else (url, {})
    sent = {**extra, **sent}
    response = _follow(method, target, sent, body, timeout, retries, backoff, stream, url)
    if response.status == 401 and auth and not extra and target == url:
        secret = credentials.current().from_keyring(url)
        if secret is not None and secret.header():
            response.drain_conn()
            response.release_conn()
            sent = {**sent, "Authorization": str(secret.header())}
            response = _follow(method, target, sent, body, timeout, retries, backoff, stream, url)
    return response


def _follow(
    method: str,
    target: str,
    sent: dict[str, str],
    body: bytes | None,
    timeout: float,
    retries: int,
    backoff: float,
    stream: bool,
    url: str,
) -> Any:
    """Send with retries and follow redirects, dropping Authorization on each hop."""
    import urllib3

    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = _pool().request(
                method,
                target,
                headers=sent,
                body=body,
                timeout=_timeout(timeout),
                retries=_retry(retries, backoff),
                redirect=False,
                preload_content=not stream,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise InfrastructureError(
                f"cannot reach {redact_url(url)}: {_reason(exc)}",
                hint=f"{retries + 1} attempts, timeout {timeout:g}s",
            ) from None
        location = response.headers.get("Location")
        if response.status not in (301, 302, 303, 307, 308) or not location:
            return response
        response.drain_conn()
        response.release_conn()
        target = urllib.parse.urljoin(target, location)
        sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
        if response.status == 303:
            method, body = "GET", None
    raise InfrastructureError(f"too many redirects fetching {redact_url(url)}")


def _reason(exc: BaseException) -> str:
    """The innermost cause of a urllib3 error, without the URL (it may hold a secret)."""
    reason = getattr(exc, "reason", None) or exc
    text = str(getattr(reason, "reason", None) or reason)
    return redact_url(text.split(": ", 1)[-1] if "Max retries" in text else text)


def denied(url: str, status: int, what: str = "", *, registry: bool = False) -> AccessDeniedError:
    """The one error for 401/403: exit 2, with how to give credentials for that host."""
    shown = redact_url(url)
    return AccessDeniedError(
        f"access denied (HTTP {status}) {what + ' ' if what else ''}at {shown}",
        hint=credentials.hint_for(url, registry=registry),
    )


@dataclass(frozen=True)
class Probe:
    """Is a URL still there? status OK / GONE / UNREACHABLE / DENIED, with its size."""

    status: str
    detail: str = ""
    size: int | None = None
    code: int | None = None


def probe(url: str, timeout: float = 15.0, retries: int = 1) -> Probe:
    """HEAD `url` (a ranged GET when HEAD is refused); `file://` is a stat."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
        try:
            return Probe(OK, size=path.stat().st_size)
        except FileNotFoundError:
            return Probe(GONE, "file not found")
        except OSError as exc:
            return Probe(UNREACHABLE, exc.strerror or str(exc))
    if parsed.scheme not in ("http", "https"):
        return Probe(UNREACHABLE, f"unsupported URL scheme {parsed.scheme!r}")
    for method, headers in (("HEAD", {}), ("GET", {"Range": "bytes=0-0"})):
        try:
            response = request(
                method, url, headers=headers, timeout=timeout, retries=retries, stream=True
            )
        except InfrastructureError as exc:
            return Probe(UNREACHABLE, exc.message)
        status = response.status
        response.release_conn()
        if status in (405, 501) and method == "HEAD":
            continue
        if status in (200, 206):
            return Probe(OK, size=_size(response, method), code=status)
        if status in (404, 410):
            return Probe(GONE, f"HTTP {status}", code=status)
        if status in (401, 403):
            return Probe(DENIED, f"HTTP {status} (access denied)", code=status)
        return Probe(UNREACHABLE, f"HTTP {status}", code=status)
    return Probe(UNREACHABLE, "no answer")


def _size(response: Any, method: str) -> int | None:
    if method == "HEAD":
        length = response.headers.get("Content-Length", "")
        return int(length) if length.isdigit() else None
    total = (response.headers.get("Content-Range") or "").rpartition("/")[2]
    return int(total) if total.isdigit() else None


def check(response: Any, url: str, what: str, ok: tuple[int, ...] = (200,)) -> None:
    """Our error for a status not in `ok`: 404/410 InputError (gone), 401/403 denied
    (exit 2 with the credentials hint), anything else InfrastructureError (exit 3)."""
    status = response.status
    if status in ok:
        return
    shown = redact_url(url)
    if status in (404, 410):
        raise InputError(f"{what} is gone (HTTP {status})", where=shown)
    if status in (401, 403):
        raise denied(url, status, f"fetching {what}")
    raise InfrastructureError(f"HTTP {status} fetching {shown}")


def download(url: str, dest: Path, *, what: str, timeout: float = 60.0, retries: int = 3) -> None:
    """Stream `url` (http(s) or file://) into `dest`, replaced atomically.

    404/410 is InputError (gone), 401/403 AccessDeniedError (exit 2 with the hint), no
    answer or another status InfrastructureError (exit 3).
    """
    parsed = urllib.parse.urlsplit(url)
    shown = redact_url(url)
    if parsed.scheme == "file":
        source = Path(urllib.request.url2pathname(parsed.path))
        try:
            with source.open("rb") as handle, atomic_output(dest) as out:
                shutil.copyfileobj(handle, out, CHUNK)
        except FileNotFoundError:
            raise InputError(f"{what} not found", where=shown) from None
        except OSError as exc:
            raise InfrastructureError(f"cannot read {shown}: {exc.strerror}") from None
        return
    if parsed.scheme not in ("http", "https"):
        raise InputError(f"unsupported URL scheme {parsed.scheme!r} for {what}", where=shown)
    response = request("GET", url, timeout=timeout, retries=retries, stream=True)
    try:
        check(response, url, what, ok=(200,))
        try:
            with atomic_output(dest) as out:
                for chunk in response.stream(CHUNK):
                    out.write(chunk)
        except OSError as exc:
            raise InfrastructureError(f"cannot fetch {shown}: {_reason(exc)}") from None
        except Exception as exc:  # urllib3 read errors mid-stream
            raise InfrastructureError(f"cannot fetch {shown}: {_reason(exc)}") from None
    finally:
        response.release_conn()


class RangeReader(io.RawIOBase):
    """A read-only, seekable view of a remote file of known `size` through Range requests.

    zipfile reads the end-of-central-directory record, the central directory and one
    member: a few small ranges instead of the whole file (a torch wheel is ~800 MB). Each
    range is one `request` (pool, retries, credentials, no Authorization on redirects);
    the ranges read are kept, so seeking back costs nothing.
    """

    def __init__(
        self,
        url: str,
        size: int,
        *,
        tail: bytes = b"",
        what: str = "file",
        chunk: int = RANGE_CHUNK,
        timeout: float = 60.0,
        retries: int = 3,
    ) -> None:
        super().__init__()
        self.url, self.size, self.what = url, size, what
        self._chunk, self._timeout, self._retries = chunk, timeout, retries
        self._segments: list[tuple[int, bytes]] = [(size - len(tail), tail)] if tail else []
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self.size - self._pos)
        if want <= 0:
            return 0
        data = self._bytes(self._pos, want)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def _bytes(self, start: int, length: int) -> bytes:
        """`length` bytes at `start`: from a range already read, else one new request."""
        for seg_start, seg in self._segments:
            if seg_start <= start and start + length <= seg_start + len(seg):
                return seg[start - seg_start : start - seg_start + length]
        end = min(self.size, start + max(length, self._chunk)) - 1
        response = request(
            "GET",
            self.url,
            headers={"Range": f"bytes={start}-{end}"},
            timeout=self._timeout,
            retries=self._retries,
        )
        check(response, self.url, self.what, ok=(200, 206))
        data = response.data if response.status == 206 else response.data[start : end + 1]
        if not data:
            raise InfrastructureError(f"empty range {start}-{end} of {redact_url(self.url)}")
        self._segments.append((start, data))
        return data[:length]


def open_range(
    url: str, *, what: str, tail: int = RANGE_CHUNK, timeout: float = 60.0, retries: int = 3
) -> RangeReader | None:
    """A RangeReader over `url`, holding its last `tail` bytes already (one request).

    None when the server ignores ranges (a 200 with the whole body, left unread): the
    caller downloads the file instead. Errors as `check`.
    """
    response = request(
        "GET",
        url,
        headers={"Range": f"bytes=-{tail}"},
        timeout=timeout,
        retries=retries,
        stream=True,
    )
    try:
        check(response, url, what, ok=(200, 206))
        total = re.search(r"/(\d+)\s*$", response.headers.get("Content-Range") or "")
        if response.status != 206 or not total:
            response.close()  # never read an 800 MB body we did not ask for
            return None
        try:
            data = response.read()
        except Exception as exc:  # urllib3 read errors mid-body
            raise InfrastructureError(f"cannot fetch {redact_url(url)}: {_reason(exc)}") from None
    finally:
        response.release_conn()
    return RangeReader(
        url, int(total.group(1)), tail=data, what=what, timeout=timeout, retries=retries
    )
