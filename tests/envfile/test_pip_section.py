"""The `pip:` section read as the requirements file conda hands to pip."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.core.errors import InputError
from audit.envfile.pip import read_pip_section

SHA_A = "a" * 64
SHA_B = "b" * 64


def read(lines: list[str], base: Path):
    return read_pip_section(((t, "env.yml", n) for n, t in enumerate(lines, 10)), base)


def test_requirements_and_options(tmp_path: Path) -> None:
    section = read(
        [
            "--pre --index-url https://idx.example/simple --extra-index-url https://x.example/s",
            "-f ./wheels",
            "requests[socks]>=2 ; sys_platform == 'linux'",
            "dipy --only-binary dipy",
            f"tiny==1.0 --hash=sha256:{SHA_A} --hash sha256:{SHA_B.upper()}",
            f"wheel @ https://files.example/wheel-1.0-py3-none-any.whl#sha256={SHA_A}",
            "pkg @ git+https://github.com/o/pkg@v1.2",
            "-e git+https://github.com/o/edit@0.1.4#egg=editpkg",
            "# a comment",
            "",
            "six  # trailing comment",
        ],
        tmp_path,
    )
    assert section.pre is True
    assert section.index_urls == ["https://idx.example/simple"]
    assert section.extra_index_urls == ["https://x.example/s"]
    assert section.find_links == [str((tmp_path / "wheels").resolve())]
    got = {r.name: r for r in section.requirements}
    assert list(got) == ["requests", "dipy", "tiny", "wheel", "pkg", "editpkg", "six"]
    assert got["requests"].text == "requests[socks]>=2 ; sys_platform == 'linux'"
    assert got["dipy"].text == "dipy"
    assert got["tiny"].text == "tiny==1.0" and got["tiny"].hashes == (SHA_A, SHA_B)
    assert got["wheel"].hashes == (SHA_A,)
    assert got["editpkg"].text == "editpkg @ git+https://github.com/o/edit@0.1.4"
    assert got["six"].where == "env.yml:20"


def test_dash_r_and_dash_c_are_read_relative_and_recursively(tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "base.txt").write_text("alpha==1\n-r more/extra.txt\n")
    (tmp_path / "reqs" / "more").mkdir()
    (tmp_path / "reqs" / "more" / "extra.txt").write_text(
        "# x\nbeta>=2 \\\n  ; python_version>'3'\n"
    )
    (tmp_path / "pins.txt").write_text("alpha<2\n")
    section = read(["-r reqs/base.txt", "--constraint=pins.txt", "gamma"], tmp_path)
    assert [(r.name, r.where) for r in section.requirements] == [
        ("alpha", "reqs/base.txt:1"),
        ("beta", "reqs/more/extra.txt:2"),
        ("gamma", "env.yml:12"),
    ]
    assert [c.text for c in section.constraints] == ["alpha<2"]


def test_include_cycle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("-r b.txt\n")
    (tmp_path / "b.txt").write_text("x\n-r a.txt\n")
    with pytest.raises(InputError) as info:
        read(["-r a.txt"], tmp_path)
    assert info.value.one_line().startswith("b.txt:2: ") and "cycle" in info.value.one_line()


def test_local_sources_are_collected_not_dropped(tmp_path: Path) -> None:
    section = read(
        ["-e .", "./vendored/pkg", "mypkg @ file:///src/mypkg", "--editable=../x"], tmp_path
    )
    assert section.requirements == []
    assert [(r.written, r.where) for r in section.local] == [
        ("-e .", "env.yml:10"),
        ("./vendored/pkg", "env.yml:11"),
        ("mypkg @ file:///src/mypkg", "env.yml:12"),
        ("-e ../x", "env.yml:13"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("tensorflow-data-validation=0.15.0", "pip needs ==: tensorflow-data-validation==0.15.0"),
        ("numpy 1.26", "pip needs ==: numpy==1.26"),
        ("--no-such-option", "pip option '--no-such-option' is not supported"),
        ("--index-url", "needs a value"),
        ("-r missing.txt", "pip requirements file 'missing.txt' not found"),
        ("tiny==1 --hash=md5:abc", "is not sha256"),
        ("tiny==1 --index-url x", "not allowed after a requirement"),
        ("pkg>=1 'unclosed", "invalid pip requirement 'pkg>=1 'unclosed'"),
        ("--index-url 'unclosed", "cannot read pip line"),
    ],
)
def test_bad_lines_name_file_line_and_requirement(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        read(["ok==1", line], tmp_path)
    text = info.value.one_line()
    assert text.startswith("env.yml:11: "), text
    assert message in text


def test_require_hashes_needs_a_hash_on_every_requirement(tmp_path: Path) -> None:
    read(["--require-hashes", f"a==1 --hash=sha256:{SHA_A}"], tmp_path)
    with pytest.raises(InputError) as info:
        read(["--require-hashes", f"a==1 --hash=sha256:{SHA_A}", "b==2"], tmp_path)
    assert info.value.one_line().startswith("env.yml:12: ") and "'b==2'" in info.value.one_line()
