"""CycloneDX and table output: structure, package URLs, determinism; CLI exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from inventory_images import base_layers, docker_save

from audit.inventory import Inventory, Package, read_inventory
from audit.inventory.formats.cyclonedx import format_cyclonedx, purl
from audit.inventory.formats.table import format_table
from audit.inventory.image import read_archive

REPO_ROOT = Path(__file__).resolve().parents[2]


def _image_inventory() -> Inventory:
    return read_archive(io.BytesIO(docker_save(base_layers())), "docker-archive:app.tar")  # type: ignore[arg-type]


def test_cyclonedx_structure_and_purls() -> None:
    inventory = _image_inventory()
    text = format_cyclonedx(inventory)
    bom = json.loads(text)
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    assert bom["serialNumber"].startswith("urn:uuid:")
    assert "timestamp" not in bom.get("metadata", {})
    purls = {c["purl"] for c in bom["components"]}
    assert "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4" in purls
    assert "pkg:pypi/requests-toolbelt@1.0.0" in purls
    numpy = next(p for p in purls if p.startswith("pkg:conda/numpy@"))
    assert "build=0" in numpy and "channel=conda-forge" in numpy
    assert "subdir=linux-64" in numpy
    hashes = next(c for c in bom["components"] if c["name"] == "python")["hashes"]
    assert {h["alg"] for h in hashes} == {"SHA-256", "MD5"}
    assert len(bom["components"]) == len(inventory.packages)


def test_cyclonedx_validates_against_schema() -> None:
    pytest.importorskip("jsonschema")
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(
        format_cyclonedx(_image_inventory())
    )
    assert error is None, str(error)[:300]


def test_cyclonedx_is_deterministic() -> None:
    first = format_cyclonedx(_image_inventory())
    second = format_cyclonedx(_image_inventory())
    assert first == second
    changed = Inventory("docker-archive:app.tar", "linux-64", (Package("apk", "musl", "1.2"),))
    assert (
        json.loads(format_cyclonedx(changed))["serialNumber"] != json.loads(first)["serialNumber"]
    )


def test_purl_forms() -> None:
    assert purl(Package("apk", "musl", "1.2.4-r2")) == "pkg:apk/alpine/musl@1.2.4-r2"
    assert purl(Package("pip", "Typing_Extensions", "4.12")) == "pkg:pypi/typing-extensions@4.12"
    conda = Package(
        "conda",
        "zlib",
        "1.3",
        build="h0_1",
        channel="https://repo.example/private",
        url="https://repo.example/private/linux-64/zlib-1.3-h0_1.tar.bz2",
    )
    text = purl(conda)
    assert text.startswith("pkg:conda/zlib@1.3?build=h0_1&channel=https")
    assert text.endswith("subdir=linux-64&type=tar.bz2")


def test_table() -> None:
    text = format_table(_image_inventory(), width=160)
    assert "[linux-64]" in text and "3 conda, 2 deb, 2 pip" in text
    assert "requests-toolbelt" in text and "12.4+deb12u5" in text


def _cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", "inventory", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO_ROOT,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_cli_formats_and_output_file(tmp_path: Path) -> None:
    archive = tmp_path / "app.tar"
    archive.write_bytes(docker_save(base_layers("gzip")))
    spec = f"docker-archive:{archive}"
    done = _cli(spec, "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["platform"] == "linux-64" and len(document["packages"]) == 7
    assert Inventory.from_json(document) == read_inventory(spec)
    out = tmp_path / "sbom.json"
    done = _cli(spec, "--format", "cyclonedx", "-o", str(out))
    assert done.returncode == 0 and done.stdout == ""
    assert json.loads(out.read_text())["bomFormat"] == "CycloneDX"
    done = _cli(spec)
    assert done.returncode == 0 and "libc6" in done.stdout


def test_cli_exit_codes(tmp_path: Path, tiny_prefix: Path) -> None:
    assert _cli(str(tiny_prefix), "-p", "linux-64").returncode == 0
    missing = _cli(str(tmp_path / "nope.yml"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_platform = _cli(str(tiny_prefix), "-p", "osx-arm64")
    assert bad_platform.returncode == 2 and "no platform osx-arm64" in bad_platform.stderr
    corrupt = tmp_path / "broken.tar"
    corrupt.write_bytes(docker_save(base_layers())[:3000])
    done = _cli(f"docker-archive:{corrupt}")
    assert done.returncode == 2 and "truncated" in done.stderr and "Traceback" not in done.stderr
    assert _cli(str(tiny_prefix), "--format", "xml").returncode == 2


def test_cli_docker_not_running() -> None:
    done = _cli("docker-daemon:app:1", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert done.returncode == 3, done.stderr
    assert "Docker is not reachable at unix:///nonexistent/docker.sock" in done.stderr
    assert "start dockerd" in done.stderr and "Traceback" not in done.stderr
