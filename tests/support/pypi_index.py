"""A local PEP 503 package index of tiny real wheels, served on 127.0.0.1.

Tests of the pip locking must not touch the internet, yet uv needs a real index: these
helpers build byte-reproducible wheels with `zipfile`, lay them out as a simple index
(`simple/<name>/index.html` linking `../../files/<file>#sha256=...`) and serve it over HTTP,
with HTTP range support when a test needs it (`helpers.http` serves the rest).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import io
import re
import tarfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

from support.http import serve_handler

_EPOCH = (1980, 1, 1, 0, 0, 0)


def normalize(name: str) -> str:
    """PEP 503 normalisation (duplicated here so the helper does not import the code under test)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, what an index advertises in `#sha256=`."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def metadata_text(name: str, version: str, requires_dist: Sequence[str] = ()) -> str:
    """Core metadata 2.1 with Requires-Dist lines: what resolvers read from a wheel."""
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {req}" for req in requires_dist]
    return "\n".join(lines) + "\n\n"


def build_wheel(
    dest: Path,
    name: str,
    version: str,
    tag: str = "py3-none-any",
    requires_dist: Sequence[str] = (),
    payload_size: int = 0,
) -> Path:
    """A minimal valid wheel (module, METADATA, WHEEL, RECORD) with fixed zip timestamps.

    `payload_size` adds that many incompressible (but deterministic) bytes after the
    METADATA, so that a lazy reader needs more than the tail of the file to find it.
    """
    dest.mkdir(parents=True, exist_ok=True)
    dist = re.sub(r"[-_.]+", "_", name)
    dist_info = f"{dist}-{version}.dist-info"
    is_pure = tag.endswith("-none-any")
    module = f"# {name} {version}\n"
    files: list[tuple[str, bytes]] = [
        (f"{dist}/__init__.py", module.encode()),
        (f"{dist_info}/METADATA", metadata_text(name, version, requires_dist).encode()),
        (
            f"{dist_info}/WHEEL",
            (
                "Wheel-Version: 1.0\nGenerator: repro-audit-tests\n"
                f"Root-Is-Purelib: {'true' if is_pure else 'false'}\nTag: {tag}\n\n"
            ).encode(),
        ),
    ]
    if payload_size:
        payload = hashlib.shake_256(f"{name}-{version}".encode()).digest(payload_size)
        files.append((f"{dist}/payload.bin", payload))
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files)
    record += f"{dist_info}/RECORD,,\n"
    files.append((f"{dist_info}/RECORD", record.encode()))
    path = dest / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for arcname, data in files:
            info = zipfile.ZipInfo(arcname, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return path


def build_sdist(dest: Path, name: str, version: str) -> Path:
    """A minimal sdist (`PKG-INFO` + `setup.py`) with fixed tar timestamps."""
    dest.mkdir(parents=True, exist_ok=True)
    dist = re.sub(r"[-_.]+", "_", name)
    base = f"{dist}-{version}"
    members = {
        f"{base}/PKG-INFO": metadata_text(name, version).encode(),
        f"{base}/setup.py": f"from setuptools import setup\nsetup(name={name!r})\n".encode(),
    }
    path = dest / f"{base}.tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for arcname, data in members.items():
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    return path


def _project_of(filename: str) -> str:
    """Project name of a wheel or sdist file name (the part before the version)."""
    stem = filename.removesuffix(".tar.gz").removesuffix(".whl")
    return normalize(stem.split("-")[0])


def write_index(root: Path, files: Iterable[Path], *, core_metadata: bool = False) -> Path:
    """Lay out `root/files/*` and `root/simple/<project>/index.html` (PEP 503).

    With `core_metadata`, each wheel also gets a PEP 658 `<wheel>.metadata` sidecar and the
    `data-core-metadata` attribute, the way PyPI serves it.
    """
    files_dir = root / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    projects: dict[str, list[Path]] = {}
    for source in files:
        target = files_dir / source.name
        if source.resolve() != target.resolve():
            target.write_bytes(source.read_bytes())
        projects.setdefault(_project_of(source.name), []).append(target)
    simple = root / "simple"
    simple.mkdir(parents=True, exist_ok=True)
    top = ["<!DOCTYPE html><html><body>"]
    for project in sorted(projects):
        top.append(f'<a href="{project}/">{project}</a>')
        anchors = []
        for target in sorted(projects[project]):
            href = f"../../files/{target.name}#sha256={sha256_file(target)}"
            attrs = f'href="{html.escape(href)}"'
            if core_metadata and target.name.endswith(".whl"):
                with zipfile.ZipFile(target) as archive:
                    meta_name = next(
                        n for n in archive.namelist() if n.endswith(".dist-info/METADATA")
                    )
                    meta = archive.read(meta_name)
                sidecar = files_dir / f"{target.name}.metadata"
                sidecar.write_bytes(meta)
                attrs += f' data-core-metadata="sha256={hashlib.sha256(meta).hexdigest()}"'
            anchors.append(f"<a {attrs}>{target.name}</a>")
        page = simple / project / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text("<!DOCTYPE html><html><body>\n" + "\n".join(anchors) + "\n</body></html>\n")
    top.append("</body></html>")
    (simple / "index.html").write_text("\n".join(top) + "\n")
    return root


@dataclass
class ServedIndex:
    """A running range-capable server: its base URL and the requests it saw."""

    url: str
    #: (method, path, Range header) of every request, in arrival order
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: the User-Agent of each of those requests, in the same order
    agents: list[str] = field(default_factory=list)


def _range_handler(
    root: Path, log: ServedIndex, expected_auth: str | None = None
) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest output stays readable."""

        def do_GET(self) -> None:
            requested = self.headers.get("Range")
            log.requests.append(("GET", self.path, requested))
            log.agents.append(self.headers.get("User-Agent") or "")
            if expected_auth and self.headers.get("Authorization") != expected_auth:
                self.send_response(HTTPStatus.UNAUTHORIZED)
                self.send_header("WWW-Authenticate", 'Basic realm="repro-audit-test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if not (requested and self._send_range(requested)):
                super().do_GET()

        def _send_range(self, requested: str) -> bool:
            """Serve `bytes=a-b` / `bytes=-n` as 206; anything else falls back to 200."""
            match = re.fullmatch(r"bytes=(\d*)-(\d*)", requested.strip())
            path = Path(self.translate_path(self.path))
            if not match or not path.is_file():
                return False
            data = path.read_bytes()
            first, last = match.groups()
            if first == "":
                start, end = max(0, len(data) - int(last)), len(data) - 1
            else:
                start = int(first)
                end = min(int(last), len(data) - 1) if last else len(data) - 1
            if start >= len(data) or start > end:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return True
            self.send_response(HTTPStatus.PARTIAL_CONTENT)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            self.send_header("Content-Length", str(end - start + 1))
            self.end_headers()
            self.wfile.write(data[start : end + 1])
            return True

    return Handler


@contextlib.contextmanager
def serve_with_ranges(root: Path, auth: tuple[str, str] | None = None) -> Iterator[ServedIndex]:
    """Serve `root` on a free 127.0.0.1 port, answering `Range:` requests with 206.

    `helpers.http.serve_directory` (plain files, optional basic auth) covers the other
    tests; lazy wheel reading needs ranges, the way PyPI and most file hosts serve them.
    With `auth=(user, password)` every GET without those basic credentials gets 401.
    """
    served = ServedIndex(url="")
    expected = None
    if auth is not None:
        expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    with serve_handler(_range_handler(root, served, expected)) as host:
        served.url = f"http://{host}"
        yield served
