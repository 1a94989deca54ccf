"""audit.core.http.open_range: parts of a remote file through Range requests, on 127.0.0.1.

A zip of a small member and a large one after it is served by a range-capable server; zipfile reads
the small member through the reader in a few ranges, never the whole file.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from support.http import serve_directory
from support.pypi_index import serve_with_ranges

from audit.core import credentials, http
from audit.core.credentials import Credentials
from audit.core.errors import EXIT_INPUT, AccessDeniedError, InputError

BIG = 400_000


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "srv"
    root.mkdir()
    path = root / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        out.writestr("small.txt", "hello from the start")
        out.writestr("big.bin", os.urandom(BIG))
    return path


@pytest.fixture(autouse=True)
def _anonymous(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(credentials, "_CURRENT", Credentials(env={}))


def test_a_member_is_read_in_a_few_ranges(archive: Path) -> None:
    with serve_with_ranges(archive.parent) as served:
        reader = http.open_range(f"{served.url}/a.zip", what="a.zip", tail=1024)
        assert reader is not None and reader.size == archive.stat().st_size
        with zipfile.ZipFile(reader) as opened:
            assert opened.read("small.txt") == b"hello from the start"
            first = len(served.requests)
            assert opened.read("small.txt") == b"hello from the start"  # kept, not re-read
            assert len(served.requests) == first
    ranges = [r for _, _, r in served.requests]
    assert ranges[0] == "bytes=-1024"
    assert all(r and r.startswith("bytes=") for r in ranges)  # never the whole file
    assert 2 <= len(ranges) <= 4
    assert set(served.agents) == {http.USER_AGENT}  # every one through core.http's client
    spans = [tuple(map(int, r.removeprefix("bytes=").split("-"))) for r in ranges[1:]]
    assert all(end - start < 70_000 for start, end in spans)


def test_a_server_without_ranges_gives_no_reader(archive: Path) -> None:
    with serve_directory(archive.parent) as url:
        assert http.open_range(f"{url}/a.zip", what="a.zip") is None


def test_gone_and_denied(archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_with_ranges(archive.parent) as served, pytest.raises(InputError, match="gone"):
        http.open_range(f"{served.url}/missing.zip", what="missing.zip")
    with serve_with_ranges(archive.parent, auth=("u", "pw-range")) as served:
        url = f"{served.url}/a.zip"
        with pytest.raises(AccessDeniedError) as info:
            http.open_range(url, what="a.zip")
        assert info.value.exit_code == EXIT_INPUT
        assert f"give credentials for {served.url.split('//')[1]}" in info.value.one_line()
        auth = tmp_path / "auth.json"
        auth.write_text(json.dumps({served.url.split("//")[1]: "u:pw-range"}))
        monkeypatch.setattr(credentials, "_CURRENT", Credentials(auth_file=auth, env={}))
        reader = http.open_range(url, what="a.zip")
        assert reader is not None
        with zipfile.ZipFile(reader) as opened:
            assert opened.read("small.txt") == b"hello from the start"
