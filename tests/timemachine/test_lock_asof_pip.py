"""`lock --as-of` on the pip: section: uv's `--exclude-newer` against a local index that
serves upload times (PEP 691 JSON with PEP 700 `upload-time`), as PyPI does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from support.http import serve_handler
from support.pypi_index import build_wheel, sha256_file
from tm_helpers import env_text, run, versions

UPLOADS = {  # wheel → upload time
    ("tinylib", "2.0"): "2024-01-10T00:00:00Z",
    ("tinylib", "2.1"): "2025-01-10T00:00:00Z",
    ("tinyapp", "1.0"): "2024-01-10T00:00:00Z",
}


def _json_index(root: Path) -> None:
    files = root / "files"
    projects: dict[str, list[dict[str, Any]]] = {}
    for (name, version), uploaded in UPLOADS.items():
        requires = ["tinylib>=2", "six>=1.16"] if name == "tinyapp" else []
        wheel = build_wheel(files, name, version, requires_dist=requires)
        projects.setdefault(name, []).append(
            {
                "filename": wheel.name,
                "url": f"../../files/{wheel.name}",
                "hashes": {"sha256": sha256_file(wheel)},
                "upload-time": uploaded,
            }
        )
    for name, entries in projects.items():
        page = root / "simple" / name / "index.json"
        page.parent.mkdir(parents=True)
        doc = {"meta": {"api-version": "1.1"}, "name": name, "files": entries}
        page.write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def json_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("json-index")
    _json_index(root)

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            page = root / self.path.strip("/") / "index.json"
            if self.path.startswith("/simple/") and page.is_file():
                data = page.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            super().do_GET()

    with serve_handler(Handler) as host:
        yield f"http://{host}/simple"


@pytest.mark.parametrize(("as_of", "tinylib"), [(None, "2.1"), ("2024-07-01", "2.0")])
def test_pip_section_resolves_as_of_the_same_date(
    tmp_path: Path, dated_channel: Path, json_index: str, as_of: str | None, tinylib: str
) -> None:
    env = env_text(dated_channel.as_uri(), ["python 3.12.*", "six", "pip"])
    env = env.replace("  - pip\n", "  - pip\n  - pip:\n      - tinyapp\n")
    (tmp_path / "environment.yml").write_text(env)
    args = ["lock", "--pypi-index-url", json_index, *(["--as-of", as_of] if as_of else [])]
    result = run(args, tmp_path)
    assert result.returncode == 0, result.stderr
    pip = versions(tmp_path / "conda-lock.yml", manager="pip")
    assert pip == {"tinyapp": "1.0", "tinylib": tinylib}  # six comes from conda, not PyPI
