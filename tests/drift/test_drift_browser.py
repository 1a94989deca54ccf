"""The HTML drift report in a real headless browser (Debian's chromium).

It must load offline with no console errors (a strict CSP would log any script, font or
URL), show the expected rows, and render to a screenshot that is not blank. Without
chromium this skips locally and fails in CI (REPRO_AUDIT_REQUIRE_DOCKER=1).
"""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from drift_helpers import Project, require

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    require("chromium")
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
    )


def console_errors(stderr: str) -> list[str]:
    """Console messages and blocked loads chromium logs with --enable-logging=stderr."""
    return [
        line
        for line in stderr.splitlines()
        if "CONSOLE" in line or "Refused to" in line or "net::ERR_" in line
    ]


def png_summary(data: bytes) -> tuple[int, int, int]:
    """(width, height, distinct pixel samples) from a PNG, with zlib only."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    samples = {raw[i : i + 4] for i in range(0, min(len(raw), 4_000_000), 4)}
    return width, height, len(samples)


@pytest.fixture(scope="module")
def html_report(project: Project, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("drift-html") / "drift.html"
    done = project.run("drift", "--report", str(out))
    assert done.returncode == 1, done.stderr
    return out


def test_report_loads_without_console_errors_and_shows_rows(
    html_report: Path, project: Project, tmp_path: Path
) -> None:
    done = chromium(tmp_path, "--dump-dom", html_report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_errors(done.stderr) == []
    dom = done.stdout
    assert "<svg" in dom and "package versions over revisions" in dom
    text = re.sub(r"<[^>]+>", " ", dom)
    text = re.sub(r"\s+", " ", text)
    assert "upgraded numpy linux-64 2.0.0-py311h1461c94_0 2.1.0-py311h71ddf71_0" in text
    assert "image-moved " + project.image in text
    assert "added linux-only-tool linux-64" in text
    assert "corrupt-lock conda-lock.yml" in text
    assert "absent → 1.0.0" in text
    for title in ("Lock history", "Upstream (re-lock today)", "Base images", "Image vs lock"):
        assert title in text


def test_report_screenshot(html_report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "drift.png"
    done = chromium(
        tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", html_report.as_uri()
    )
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    data = shot.read_bytes()
    assert len(data) > 40_000  # a blank page is a few KB
    width, height, distinct = png_summary(data)
    assert (width, height) == (1200, 1600)
    assert distinct > 200  # text, badges and the chart: far from a single colour
