"""Fuzzing every parser of an input file: only our clear errors come out, never a traceback.

Hypothesis drives each parser with arbitrary text and with mutations of a valid file (bytes
flipped, lines cut, dropped or repeated). A parser may accept the input or raise a
ReproAuditError (one line, an exit code); anything else is a bug. Bounded for CI: a fixed
number of examples per parser and no example database (`REPRO_AUDIT_FUZZ_EXAMPLES` raises
the count for a longer run, `REPRO_AUDIT_FUZZ_RANDOM=1` new cases each run).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.core.errors import ReproAuditError

EXAMPLES = int(os.environ.get("REPRO_AUDIT_FUZZ_EXAMPLES", "150"))
#: The suite's short run is derandomized (the same cases every time); the scheduled long
#: run (.github/workflows/fuzz.yml) sets REPRO_AUDIT_FUZZ_RANDOM=1 to explore new ones.
RANDOM = os.environ.get("REPRO_AUDIT_FUZZ_RANDOM") == "1"
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not RANDOM,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

ENVIRONMENT = """\
name: app
channels:
  - conda-forge
  - nodefaults
dependencies:
  - python 3.11.*
  - numpy >=1.26  # [linux]
  - conda-forge::six
  - pip
  - pip:
      - --index-url https://pypi.org/simple
      - requests ==2.32.3
platforms:
  - linux-64
  - osx-arm64
"""

CONDA_LOCK = """\
version: 1
metadata:
  content_hash:
    linux-64: 0123
  channels:
  - url: conda-forge
    used_env_vars: []
  platforms:
  - linux-64
  sources:
  - environment.yml
package:
- name: six
  version: 1.16.0
  manager: conda
  platform: linux-64
  dependencies:
    python: '>=3.8'
  url: https://conda.anaconda.org/conda-forge/noarch/six-1.16.0-pyh6c4a22f_0.tar.bz2
  hash:
    md5: e5f25f8dbc060e9a8d912e432202afc2
    sha256: a85c38227b446f42c5b90d9b642f2c0567880c15d72492d8da074a59c8f91dd6
  build: pyh6c4a22f_0
  category: main
  optional: false
- name: requests
  version: 2.32.3
  manager: pip
  platform: linux-64
  dependencies: {}
  url: https://files.pythonhosted.org/packages/requests-2.32.3-py3-none-any.whl
  hash:
    sha256: 70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6
  category: main
  optional: false
"""

EXPLICIT = """\
# platform: linux-64
# input_hash: 0123
@EXPLICIT
https://conda.anaconda.org/conda-forge/noarch/six-1.16.0-pyh6c4a22f_0.tar.bz2#sha256:a85c38227b446f42c5b90d9b642f2c0567880c15d72492d8da074a59c8f91dd6
# pip requests @ https://files.pythonhosted.org/requests-2.32.3-py3-none-any.whl#sha256=70
"""

PIXI = """\
version: 6
environments:
  default:
    channels:
    - url: https://conda.anaconda.org/conda-forge/
    packages:
      linux-64:
      - conda: https://conda.anaconda.org/conda-forge/noarch/six-1.16.0-pyh6c4a22f_0.tar.bz2
packages:
- conda: https://conda.anaconda.org/conda-forge/noarch/six-1.16.0-pyh6c4a22f_0.tar.bz2
  sha256: a85c38227b446f42c5b90d9b642f2c0567880c15d72492d8da074a59c8f91dd6
  md5: e5f25f8dbc060e9a8d912e432202afc2
  depends:
  - python
  license: MIT
  size: 14259
  timestamp: 1620240338595
"""

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE=python:3.11-slim
ARG REG=docker.io
FROM ${BASE} AS build
COPY --from=busybox:1.36 /bin/busybox /bin/
RUN <<EOF
echo hi
EOF
FROM ${REG}/library/debian:${TAG:-12}@sha256:{DIGEST}
COPY --from=build /app /app
""".replace("{DIGEST}", "0123456789abcdef" * 4)

COMPOSE = """\
x-base: &base
  image: "redis:7"
services:
  web:
    image: ${REGISTRY:-docker.io}/library/nginx:1.27
  cache:
    <<: *base
  app:
    build: .
    image: app:dev
"""

IMAGE_LOCK = json.dumps(
    {
        "version": 1,
        "images": {
            "docker.io/library/debian:12@sha256:" + "0" * 64: {
                "registry": "docker.io",
                "repository": "library/debian",
                "tag": "12",
                "digest": "sha256:" + "0" * 64,
                "media_type": "application/vnd.oci.image.index.v1+json",
                "platforms": [
                    {"os": "linux", "architecture": "amd64", "digest": "sha256:" + "1" * 64}
                ],
                "files": ["Dockerfile"],
            }
        },
    },
    indent=2,
    sort_keys=True,
)

RECORD = json.dumps(
    {
        "schema": 1,
        "kind": "repro-audit/build-record",
        "inputs": {
            "lockfile": {"path": "conda-lock.yml", "sha256": "0" * 64},
            "platform": "linux/amd64",
        },
        "outputs": {"image_id": "sha256:" + "2" * 64, "labels": {}},
        "inventory": {
            "schema": 1,
            "source": "img",
            "platform": "linux-64",
            "packages": [{"manager": "conda", "name": "six", "version": "1.16.0", "depends": []}],
        },
    },
    sort_keys=True,
)

POLICY = """\
[tool.repro-audit]
allowed-channels = ["conda-forge"]
banned-packages = ["openssl <3"]
required-platforms = ["linux-64"]
max-lock-age-days = 90
"""


def mutations(seed: str) -> st.SearchStrategy[bytes]:
    """The seed with bytes flipped, lines dropped, cut, repeated or swapped; or noise."""
    data = seed.encode()
    lines = seed.splitlines(keepends=True)

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        kind = draw(st.sampled_from(["flip", "drop", "cut", "repeat", "swap", "insert"]))
        if kind == "flip":
            out = bytearray(data)
            for _ in range(draw(st.integers(1, 8))):
                out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
            return bytes(out)
        if kind == "cut":
            return data[: draw(st.integers(0, len(data)))]
        picked = draw(st.lists(st.integers(0, len(lines) - 1), min_size=1, max_size=4))
        new = list(lines)
        for index in sorted(set(picked), reverse=True):
            if kind == "drop":
                del new[index]
            elif kind == "repeat":
                new.insert(index, new[index])
            elif kind == "swap":
                other = draw(st.integers(0, len(new) - 1))
                new[index], new[other] = new[other], new[index]
            else:
                new.insert(index, draw(st.text(max_size=40)) + "\n")
        return "".join(new).encode("utf-8", "surrogatepass")

    return st.one_of(
        mutate(),
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )


def expect_clear(parse: Callable[[], object]) -> None:
    """Run `parse`; only a ReproAuditError (one line) may come out."""
    try:
        parse()
    except ReproAuditError as exc:
        assert exc.one_line() and "\n" not in exc.one_line()


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    return tmp_path


@FUZZ
@given(data=mutations(ENVIRONMENT))
def test_environment_lines(scratch: Path, data: bytes) -> None:
    from audit.envfile.lines import read_envfiles

    path = write(scratch, "environment.yml", data)
    expect_clear(lambda: read_envfiles([path], ["environment.yml"], ["linux-64", "osx-arm64"]))


@settings(FUZZ, max_examples=max(EXAMPLES // 5, 10))
@given(data=mutations(ENVIRONMENT))
def test_environment_spec(scratch: Path, data: bytes) -> None:
    """The lock's reader (conda-lock's parser underneath): slower, fewer examples."""
    from audit.envfile.spec import load_spec

    path = write(scratch, "environment.yml", data)
    expect_clear(lambda: load_spec([path], platforms=["linux-64"]))


@FUZZ
@given(data=mutations(CONDA_LOCK))
def test_conda_lock(scratch: Path, data: bytes) -> None:
    from audit.inventory.condalock import CondaLockSource
    from audit.lockfile.condalock import read_metadata
    from audit.lockfile.scan import decode_text, scan_lock

    expect_clear(lambda: CondaLockSource("conda-lock.yml", data).read())
    expect_clear(lambda: scan_lock(decode_text(data, "conda-lock.yml")))
    path = write(scratch, "conda-lock.yml", data)
    expect_clear(lambda: read_metadata(path))


@FUZZ
@given(data=mutations(CONDA_LOCK))
def test_check_on_a_mutated_lock(scratch: Path, data: bytes) -> None:
    """check reads the lock, its explicit files and the env file together."""
    from audit.check import CheckOptions, run_check

    (scratch / "environment.yml").write_text(
        "channels: [conda-forge]\ndependencies:\n  - six\nplatforms: [linux-64]\n"
    )
    write(scratch, "conda-lock.yml", data)
    expect_clear(lambda: run_check(CheckOptions(root=scratch, repo_root=scratch)))


@FUZZ
@given(data=mutations(EXPLICIT))
def test_explicit(data: bytes) -> None:
    from audit.inventory.explicit import ExplicitSource

    expect_clear(lambda: ExplicitSource("conda-linux-64.lock", data).read())


@FUZZ
@given(data=mutations(PIXI))
def test_pixi(scratch: Path, data: bytes) -> None:
    from audit.inventory import source_from_bytes

    path = write(scratch, "pixi.lock", data)
    expect_clear(lambda: source_from_bytes("pixi.lock", data, "pixi.lock", None, path).read())


@FUZZ
@given(data=mutations(DOCKERFILE))
def test_dockerfile(data: bytes) -> None:
    from audit.dockerfile.parser import parse_dockerfile

    text = data.decode("utf-8", "replace")
    expect_clear(lambda: parse_dockerfile(text, "Dockerfile"))


@FUZZ
@given(data=mutations(COMPOSE))
def test_compose(data: bytes) -> None:
    from audit.dockerfile.compose import parse_compose

    text = data.decode("utf-8", "replace")
    expect_clear(lambda: parse_compose(text, "docker-compose.yml"))


@FUZZ
@given(data=mutations(IMAGE_LOCK))
def test_image_lock(scratch: Path, data: bytes) -> None:
    from audit.imagelock import read_lock

    path = write(scratch, "image-lock.json", data)
    expect_clear(lambda: read_lock(path))


@FUZZ
@given(data=mutations(RECORD))
def test_build_record(scratch: Path, data: bytes) -> None:
    from audit.inventory import source_from_bytes
    from audit.record import read_record

    path = write(scratch, "build-record.json", data)
    expect_clear(lambda: read_record(path))
    expect_clear(lambda: source_from_bytes("build-record.json", data, path.name).read())


@FUZZ
@given(data=mutations(POLICY))
def test_policy(scratch: Path, data: bytes) -> None:
    from audit.check.policy import load_policy

    write(scratch, "pyproject.toml", data)
    expect_clear(lambda: load_policy(scratch))


def _tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, body in (
            ("opt/conda/conda-meta/six-1.16.0-0.json", b'{"name": "six", "version": "1.16.0"}'),
            ("var/lib/dpkg/status", b"Package: libc6\nStatus: install ok installed\nVersion: 2\n"),
            ("x" * 120 + "/long-name.txt", b"pax"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


TAR = _tar()


@st.composite
def tar_mutations(draw: st.DrawFn) -> bytes:
    out = bytearray(TAR)
    for _ in range(draw(st.integers(1, 12))):
        # headers are the first 512 bytes of each member: aim there most of the time
        block = draw(st.integers(0, len(out) // 512 - 1))
        offset = block * 512 + draw(st.integers(0, 511))
        out[offset] = draw(st.integers(0, 255))
    return bytes(out[: draw(st.integers(0, len(out)))]) if draw(st.booleans()) else bytes(out)


@FUZZ
@given(data=tar_mutations())
def test_tar_headers(data: bytes) -> None:
    from audit.inventory.image import read_layers

    def layer() -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]

    expect_clear(lambda: read_layers("layer.tar", [("layer", layer)], None))


# --------------------------------------------------------------------------- hostile

#: What a hostile file adds to a valid one: aliases that expand to billions of nodes, a
#: recursive alias, nesting past any parser's stack, terminal escapes, a 5,000-digit
#: number, NUL bytes. Each goes in at a random line; or the file is re-encoded as UTF-16.
HOSTILE_YAML = [
    'b0: &b0 ["x","x","x","x","x","x","x","x","x","x"]\n'
    + "".join(f"b{i}: &b{i} [{','.join([f'*b{i - 1}'] * 10)}]\n" for i in range(1, 9)),
    "r: &r [*r]\n",
    "d: " + "[" * 300 + "]" * 300 + "\n",
    '  - "numpy\\x1b]0;pwned\\x07\\x1b[2J"\n',
    "n: " + "9" * 5000 + "\n",
    "z: \x00\x00\n",
]
HOSTILE_JSON = ["[" * 3000 + "]" * 3000, "9" * 5000, '"\\u001b[2J"', "NaN", '{"a": ' * 500]
REAL_WORLD = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-world"


def _real_seeds(folder: str, limit: int = 12) -> list[str]:
    """Up to `limit` real files from the corpus (none when it is absent)."""
    for base in (REAL_WORLD, Path("/work/shared/data/real-world")):
        if (base / folder).is_dir():
            files = sorted(p for p in (base / folder).iterdir() if p.is_file())[:limit]
            return [p.read_text("utf-8", "replace") for p in files]
    return []


def hostile(seeds: list[str], inserts: list[str]) -> st.SearchStrategy[bytes]:
    """A seed with one hostile insert at a random line, re-encoded, or mutated."""

    @st.composite
    def make(draw: st.DrawFn) -> bytes:
        seed = draw(st.sampled_from(seeds))
        lines = seed.splitlines(keepends=True) or [""]
        at = draw(st.integers(0, len(lines)))
        text = "".join([*lines[:at], draw(st.sampled_from(inserts)), *lines[at:]])
        encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "utf-16-le", "utf-16-be"]))
        return text.encode(encoding, "surrogatepass")

    return st.one_of(make(), *(mutations(s) for s in seeds[:3]))


ENV_SEEDS = [ENVIRONMENT, *_real_seeds("envs")]
DOCKERFILE_SEEDS = [DOCKERFILE, *_real_seeds("dockerfiles")]


@FUZZ
@given(data=hostile(ENV_SEEDS, HOSTILE_YAML))
def test_hostile_environment(scratch: Path, data: bytes) -> None:
    from audit.envfile.lines import read_envfiles

    path = write(scratch, "environment.yml", data)
    expect_clear(lambda: read_envfiles([path], ["environment.yml"], ["linux-64"]))


@FUZZ
@given(data=hostile([CONDA_LOCK], HOSTILE_YAML))
def test_hostile_conda_lock(scratch: Path, data: bytes) -> None:
    from audit.inventory.condalock import CondaLockSource
    from audit.lockfile.condalock import read_metadata
    from audit.merge.threeway import parse_lock

    expect_clear(lambda: CondaLockSource("conda-lock.yml", data).read())
    path = write(scratch, "conda-lock.yml", data)
    expect_clear(lambda: read_metadata(path))
    expect_clear(lambda: parse_lock(data.decode("utf-8", "replace"), "conda-lock.yml"))


@FUZZ
@given(data=hostile([COMPOSE], HOSTILE_YAML))
def test_hostile_compose(data: bytes) -> None:
    from audit.dockerfile.compose import parse_compose

    expect_clear(lambda: parse_compose(data.decode("utf-8", "replace"), "docker-compose.yml"))


@FUZZ
@given(data=hostile(DOCKERFILE_SEEDS, ["FROM evil\x1b[2J\n", "RUN " + "\\\n" * 2000, "\x00"]))
def test_hostile_dockerfile(data: bytes) -> None:
    from audit.dockerfile.parser import parse_dockerfile

    expect_clear(lambda: parse_dockerfile(data.decode("utf-8", "replace"), "Dockerfile"))


@FUZZ
@given(data=hostile([EXPLICIT], ["https://x/\x1b[2J.conda#sha256:zz\n", "\x00" * 9]))
def test_hostile_explicit(data: bytes) -> None:
    from audit.inventory.explicit import ExplicitSource

    expect_clear(lambda: ExplicitSource("conda-linux-64.lock", data).read())


@FUZZ
@given(data=st.one_of(hostile([RECORD], HOSTILE_JSON), hostile([IMAGE_LOCK], HOSTILE_JSON)))
def test_hostile_json_documents(scratch: Path, data: bytes) -> None:
    from audit.imagelock import read_lock
    from audit.inventory import source_from_bytes
    from audit.record import read_record

    path = write(scratch, "build-record.json", data)
    expect_clear(lambda: read_record(path))
    expect_clear(lambda: source_from_bytes("build-record.json", data, path.name).read())
    expect_clear(lambda: read_lock(write(scratch, "image-lock.json", data)))
