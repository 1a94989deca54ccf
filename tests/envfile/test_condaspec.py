"""Conda spec forms, each read as conda's MatchSpec reads it.

The expected behaviour is written down from conda's documentation ("Package match
specifications" in the conda user guide) and conda's `_parse_spec_str` rules: `=1.2` is
fuzzy (1.2.*) unless a build follows, `==1.2` and a bare `1.2` with a build are exact,
bracket keys set version/build/build_number/channel/subdir, a bracket without `key=value`
is dropped. Each vector says which records must match and which must not.
"""

from __future__ import annotations

import pytest
from rattler import BuildString, PackageRecord

from audit.core.errors import InputError
from audit.envfile.condaspec import as_match_spec, parse_conda_spec

# (spec, name, channel, [(version, build, build_number, subdir) that match], [... that don't])
VECTORS = [
    ("numpy", "numpy", None, [("1.8.1", "py27_0", 0, "linux-64")], []),
    (
        "numpy 1.8*",
        "numpy",
        None,
        [("1.8", "0", 0, "noarch"), ("1.8.1", "0", 0, "noarch")],
        [("1.9", "0", 0, "noarch")],
    ),
    ("numpy 1.8.1", "numpy", None, [("1.8.1", "0", 0, "noarch")], [("1.8.10", "0", 0, "noarch")]),
    (
        "numpy=1.11",
        "numpy",
        None,
        [("1.11", "0", 0, "noarch"), ("1.11.3", "0", 0, "noarch")],
        [("1.12", "0", 0, "noarch"), ("1.1", "0", 0, "noarch")],
    ),
    ("numpy==1.11", "numpy", None, [("1.11", "0", 0, "noarch")], [("1.11.1", "0", 0, "noarch")]),
    (
        "numpy >=1.8,<2",
        "numpy",
        None,
        [("1.8", "0", 0, "noarch"), ("1.26.4", "0", 0, "noarch")],
        [("2.0", "0", 0, "noarch"), ("1.7", "0", 0, "noarch")],
    ),
    (
        "numpy=1.11.1|1.11.3",
        "numpy",
        None,
        [("1.11.1", "0", 0, "noarch"), ("1.11.3", "0", 0, "noarch")],
        [("1.11.2", "0", 0, "noarch")],
    ),
    # conda env export: name=version=build (the version is exact once a build is given)
    (
        "addict=2.4.0=pyhd8ed1ab_2",
        "addict",
        None,
        [("2.4.0", "pyhd8ed1ab_2", 2, "noarch")],
        [("2.4.0", "pyhd8ed1ab_1", 1, "noarch"), ("2.4.0.1", "pyhd8ed1ab_2", 2, "noarch")],
    ),
    (
        "numpy 1.11 py36_0",
        "numpy",
        None,
        [("1.11", "py36_0", 0, "linux-64")],
        [("1.11.1", "py36_0", 0, "linux-64"), ("1.11", "py37_0", 0, "linux-64")],
    ),
    (
        "numpy==1.11=py36_0",
        "numpy",
        None,
        [("1.11", "py36_0", 0, "linux-64")],
        [("1.11", "py35_0", 0, "linux-64")],
    ),
    # real pytorch builds hold dots, which rattler's strict grammar refuses
    (
        "pytorch=1.7.1=py3.7_cuda11.0.221_cudnn8.0.5_0",
        "pytorch",
        None,
        [("1.7.1", "py3.7_cuda11.0.221_cudnn8.0.5_0", 0, "linux-64")],
        [("1.7.1", "py3.8_cuda11.0.221_cudnn8.0.5_0", 0, "linux-64")],
    ),
    # build-string globs
    (
        "pyarrow =13.0.0=*_cpu",
        "pyarrow",
        None,
        [("13.0.0", "h1234_3_cpu", 3, "linux-64")],
        [("13.0.0", "h1234_3_cuda", 3, "linux-64")],
    ),
    (
        "mpich *=h*",
        "mpich",
        None,
        [("4.1", "h846660c_100", 100, "linux-64")],
        [("4.1", "external_0", 0, "linux-64")],
    ),
    (
        "hdf5 >=1.14,<1.15=*mpi_mpich_*",
        "hdf5",
        None,
        [("1.14.3", "mpi_mpich_h1_0", 0, "linux-64")],
        [("1.14.3", "nompi_h1_0", 0, "linux-64")],
    ),
    (
        "python 3.12*",
        "python",
        None,
        [("3.12.4", "h1_cpython", 0, "linux-64")],
        [("3.11.9", "h1_cpython", 0, "linux-64")],
    ),
    (
        "ipywidgets >= 8.0.1",
        "ipywidgets",
        None,
        [("8.1.0", "0", 0, "noarch")],
        [("8.0.0", "0", 0, "noarch")],
    ),
    # bracket keys
    (
        "numpy[version='>=1.8,<2', build=py*]",
        "numpy",
        None,
        [("1.9", "py27_0", 0, "linux-64")],
        [("1.9", "np_0", 0, "linux-64"), ("2.1", "py27_0", 0, "linux-64")],
    ),
    (
        "blas[build=mkl]",
        "blas",
        None,
        [("2.0", "mkl", 0, "linux-64")],
        [("2.0", "openblas", 0, "linux-64")],
    ),
    (
        "numpy[build_number=3]",
        "numpy",
        None,
        [("1.0", "py_3", 3, "linux-64")],
        [("1.0", "py_2", 2, "linux-64")],
    ),
    ("numpy[subdir=linux-64]", "numpy", None, [("1.0", "0", 0, "linux-64")], []),
    ("numpy[channel=conda-forge]", "numpy", "conda-forge", [("1.0", "0", 0, "linux-64")], []),
    # channels
    (
        "conda-forge::numpy 1.2 py*",
        "numpy",
        "conda-forge",
        [("1.2", "py27_0", 0, "linux-64")],
        [("1.2.1", "py27_0", 0, "linux-64")],
    ),
    (
        "conda-forge/linux-64::numpy",
        "numpy",
        "conda-forge/linux-64",
        [("1.0", "0", 0, "linux-64")],
        [],
    ),
    (
        "nvidia/label/cuda-11.7.1::cuda-toolkit = 11.7",
        "cuda-toolkit",
        "nvidia/label/cuda-11.7.1",
        [("11.7.1", "0", 0, "linux-64")],
        [("11.8.0", "0", 0, "linux-64")],
    ),
    (
        '"bioconda::fastqc=0.12.1"'.strip('"'),
        "fastqc",
        "bioconda",
        [("0.12.1", "hdfd78af_0", 0, "noarch")],
        [("0.11.9", "hdfd78af_0", 0, "noarch")],
    ),
]


def _record(name: str, version: str, build: str, number: int, subdir: str) -> PackageRecord:
    return PackageRecord(name, version, BuildString(build), number, subdir)


@pytest.mark.parametrize("vector", VECTORS, ids=[v[0] for v in VECTORS])
def test_spec_reads_as_conda_does(vector: tuple) -> None:
    text, name, channel, good, bad = vector
    spec = parse_conda_spec(text, "env.yml:3")
    assert spec.written == text
    assert spec.name == name
    assert spec.channel == channel
    assert spec.warning is None
    match = as_match_spec(spec.solver.split("::", 1)[-1])
    for version, build, number, subdir in good:
        assert match.matches(_record(name, version, build, number, subdir)), (version, build)
    for version, build, number, subdir in bad:
        assert not match.matches(_record(name, version, build, number, subdir)), (version, build)


@pytest.mark.parametrize("text", ["dask[complete]", "cubed[diagnostics] >=0.1"])
def test_extras_bracket_is_dropped_with_a_warning(text: str) -> None:
    spec = parse_conda_spec(text, "env.yml:8")
    assert "[" not in spec.solver
    assert spec.warning is not None and text in spec.warning and "ignores" in spec.warning
    assert spec.name == text.split("[")[0]


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("numpy=", "a '=' needs a version after it"),
        ("numpy >=", "an operator needs a version after it"),
        ("blas[build=mkl", "unbalanced brackets"),
        ("numpy >=1,,<", None),
    ],
)
def test_invalid_spec_names_line_and_text(text: str, hint: str | None) -> None:
    with pytest.raises(InputError) as info:
        parse_conda_spec(text, "env.yml:4")
    line = info.value.one_line()
    assert line.startswith("env.yml:4: ") and f"'{text}'" in line
    if hint:
        assert hint in line


@pytest.mark.parametrize(
    ("text", "subdir"),
    [("numpy[subdir=linux-64]", "linux-64"), ("conda-forge/osx-arm64::numpy", "osx-arm64")],
)
def test_subdir_is_kept(text: str, subdir: str) -> None:
    assert as_match_spec(parse_conda_spec(text).solver).subdir == subdir
