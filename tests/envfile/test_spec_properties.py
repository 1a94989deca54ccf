"""Random and mutated conda specs and pip lines: only our clear, one-line errors come out."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.core.errors import InputError
from audit.envfile.condaspec import parse_conda_spec
from audit.envfile.lines import read_envfiles
from audit.envfile.pip import read_pip_section

SPECS = [
    "addict=2.4.0=pyhd8ed1ab_2",
    "numpy[version='>=1.8,<2', build=py*]",
    "conda-forge/linux-64::numpy 1.2 py*",
    "hdf5 >=1.14,<1.15=*mpi_mpich_*",
    "pkg=1.2|1.4",
    "dask[complete]",
]
PIP_LINES = [
    "requests[socks]>=2 ; sys_platform == 'linux'",
    "tiny==1.0 --hash=sha256:" + "a" * 64,
    "--pre --index-url https://x.example/simple",
    "-e git+https://github.com/o/p@v1#egg=p",
    "wheel @ https://f.example/w-1-py3-none-any.whl#sha256=" + "b" * 64,
    "-r other.txt",
    "-c pins.txt",
]
_chars = st.sampled_from(list("=<>!~*|,[]()'\":;@#/.-_ \t\\$&^?") + list("abz019"))
_chunks = st.sampled_from(["==", "=", "::", "[", "]", " --hash=", "-e ", "-r ", "sel(", "#"])

quiet = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _mutate(text: str, data: st.DataObject) -> str:
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(text)))
        chunk = data.draw(_chunks | st.text(_chars, max_size=4))
        cut = data.draw(st.integers(0, 4))
        text = text[:pos] + chunk + text[pos + cut :]
    return text


def _clear(exc: InputError, where: str) -> None:
    line = exc.one_line()
    assert "\n" not in line and line.startswith(where), line


@quiet
@given(data=st.data())
def test_mutated_conda_specs(data: st.DataObject) -> None:
    text = _mutate(data.draw(st.sampled_from(SPECS)), data)
    try:
        spec = parse_conda_spec(text, "env.yml:3")
    except InputError as exc:
        _clear(exc, "env.yml:3: ")
        return
    assert spec.name and spec.solver


@quiet
@given(text=st.text(max_size=60))
def test_random_conda_specs(text: str) -> None:
    try:
        parse_conda_spec(text, "env.yml:3")
    except InputError as exc:
        _clear(exc, "env.yml:3")


@quiet
@given(data=st.data())
def test_mutated_pip_lines(tmp_path: Path, data: st.DataObject) -> None:
    (tmp_path / "other.txt").write_text("six\n")
    (tmp_path / "pins.txt").write_text("six<2\n")
    lines = [_mutate(data.draw(st.sampled_from(PIP_LINES)), data) for _ in range(3)]
    try:
        read_pip_section(((t, "env.yml", n) for n, t in enumerate(lines, 5)), tmp_path)
    except InputError as exc:
        _clear(exc, "")
        assert exc.where and ":" in exc.where


@quiet
@given(data=st.data())
def test_mutated_environment_files(tmp_path: Path, data: st.DataObject) -> None:
    deps = [data.draw(st.sampled_from(SPECS)) for _ in range(2)]
    pip = [_mutate(data.draw(st.sampled_from(PIP_LINES[:5])), data)]
    body = "".join(f"  - {_mutate(d, data)!r}\n" for d in deps)
    body += "  - sel(linux): six\n  - pip:\n" + "".join(f"    - {p!r}\n" for p in pip)
    path = tmp_path / "environment.yml"
    path.write_text("dependencies:\n" + body, encoding="utf-8")
    try:
        read_envfiles([path], ["environment.yml"], ["linux-64", "win-64"])
    except InputError as exc:
        _clear(exc, "environment.yml")
