"""A merged lock judged against the merged environment file's specs (what makes the
driver re-solve), on a real conda-lock.yml with conda and pip packages (skips when the
shared data is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from audit.merge.resolve import unmet_specs

LOCK = (
    Path(__file__).resolve().parents[3]
    / "shared/data/lockfiles/conda-lock/tests/test-install-with-pip-deps/conda-lock.yml"
)
pytestmark = pytest.mark.skipif(not LOCK.is_file(), reason=f"{LOCK} is absent")


def env(*conda: str, pip: tuple[str, ...] = ()) -> bytes:
    lines = ["channels:", "  - conda-forge", "dependencies:", *(f"  - {c}" for c in conda)]
    if pip:
        lines += ["  - pip:", *(f"      - {p}" for p in pip)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(LOCK.read_text())


def test_specs_the_lock_meets_ask_for_nothing(document: dict) -> None:
    met = env("python 3.12.*", "pip", pip=("requests >=2.30", "urllib3"))
    assert unmet_specs(document, met, "environment.yml") == []


def test_a_conda_spec_the_lock_misses_is_named_per_platform(document: dict) -> None:
    unmet = unmet_specs(document, env("python 3.11.*"), "environment.yml")
    assert unmet == [
        "linux-64: python 3.12.0 against 'python 3.11.*'",
        "linux-aarch64: python 3.12.0 against 'python 3.11.*'",
    ]
    assert unmet_specs(document, env("zlib"), "environment.yml")[0] == (
        "linux-64: no zlib against 'zlib'"
    )


def test_a_pip_requirement_the_lock_misses_is_named(document: dict) -> None:
    unmet = unmet_specs(document, env("python", pip=("requests <2.31",)), "environment.yml")
    assert unmet == [
        "linux-64: pip requests 2.31.0 against 'requests <2.31'",
        "linux-aarch64: pip requests 2.31.0 against 'requests <2.31'",
    ]
    absent = unmet_specs(document, env("python", pip=("rich",)), "environment.yml")
    assert absent[0] == "linux-64: no pip rich against 'rich'"


def test_an_environment_file_that_does_not_read_asks_for_nothing(document: dict) -> None:
    assert unmet_specs(document, b"dependencies: [\n", "environment.yml") == []
