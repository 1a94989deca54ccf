"""`lock` of `git+…@ref` pip requirements: the ref resolved to its commit, end to end.

A local git repository holding a tiny Python package is served over HTTP on 127.0.0.1
(git's dumb protocol: `git update-server-info` + a static file server) and as `file://`;
its dependency comes from a local PEP 503 index.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.http import serve_directory
from support.pypi_index import build_wheel, write_index
from test_lock import run

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}
PYPROJECT = """[build-system]
requires = []
build-backend = "tinybackend"
backend-path = ["_backend"]

[project]
name = "tinyvcs"
version = "{version}"
description = "a tiny package locked from git"
dependencies = ["tinylib>=2"]
"""


def git(repo: Path, *args: str) -> str:
    import os

    done = subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


#: An in-tree PEP 517 backend (no build requirements, so no index is needed to build):
#: the frontend (`uv build`) drives it exactly as it drives setuptools or hatchling.
BACKEND = '''"""Build a pure-Python wheel of the package next to this directory."""
import base64, hashlib, tomllib, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    info = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": (ROOT / name / "__init__.py").read_bytes()}
    meta = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n"
    meta += "".join(f"Requires-Dist: {d}\\n" for d in project.get("dependencies", []))
    files[f"{info}/METADATA"] = meta.encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    record = ""
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(data)}\\n"
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\\n").encode()
    wheel = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(Path(wheel_directory) / wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, (1980, 1, 1, 0, 0, 0)), data)
    return wheel
'''


def commit_version(work: Path, version: str) -> str:
    (work / "pyproject.toml").write_text(PYPROJECT.format(version=version))
    (work / "_backend").mkdir(exist_ok=True)
    (work / "_backend" / "tinybackend.py").write_text(BACKEND)
    pkg = work / "tinyvcs"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text(f'"""tiny."""\n__version__ = "{version}"\n')
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", f"version {version}")
    return git(work, "rev-parse", "HEAD")


def publish(work: Path, bare: Path) -> None:
    git(work, "push", "-q", "--force", "--tags", str(bare), "main")
    git(bare, "update-server-info")


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[dict]:
    """A package repository with tag v0.1 (0.1.0) on main, published as a bare repo."""
    work, served = tmp_path / "work", tmp_path / "served"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    first = commit_version(work, "0.1.0")
    git(work, "tag", "v0.1")
    bare = served / "tinyvcs.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    publish(work, bare)
    with serve_directory(served) as url:
        yield {"work": work, "bare": bare, "http": f"{url}/tinyvcs.git", "first": first}


@pytest.fixture(scope="module")
def index_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    src = tmp_path_factory.mktemp("vcs-wheels")
    root = write_index(tmp_path_factory.mktemp("vcs-index"), [build_wheel(src, "tinylib", "2.0")])
    with serve_directory(root) as url:
        yield f"{url}/simple"


def write_env(tmp_path: Path, channel: str, pip_line: str) -> None:
    (tmp_path / "environment.yml").write_text(
        f"channels:\n  - {channel}\ndependencies:\n  - python 3.11.*\n  - pip\n"
        f"  - pip:\n      - {pip_line}\nplatforms:\n  - linux-64\n"
    )


def vcs_entry(lockfile: Path) -> dict:
    packages = yaml.safe_load(lockfile.read_text())["package"]
    return {p["name"]: p for p in packages if p["manager"] == "pip"}


def test_tag_is_locked_to_its_commit_over_http(
    tmp_path: Path, channel_url: str, index_url: str, repo: dict
) -> None:
    write_env(tmp_path, channel_url, f"tinyvcs @ git+{repo['http']}@v0.1")
    result = run(["lock", "--pypi-index-url", index_url], tmp_path)
    assert result.returncode == 0, result.stderr
    entries = vcs_entry(tmp_path / "conda-lock.yml")
    entry = entries["tinyvcs"]
    assert entry["url"] == f"git+{repo['http']}@{repo['first']}"
    assert entry["version"] == "0.1.0"
    assert not (entry.get("hash") or {}).get("sha256")
    assert entry["dependencies"] == {"tinylib": ">=2"}
    assert entries["tinylib"]["version"] == "2.0"  # its dependency, resolved like any other
    explicit = (tmp_path / "conda-linux-64.lock").read_text()
    assert f"# pip tinyvcs @ git+{repo['http']}@{repo['first']}\n" in explicit

    # the pre-merge gate: a commit pin is not a missing hash, nor a moving ref
    checked = run(["check", "--format", "json"], tmp_path)
    rules = {f["rule_id"] for f in json.loads(checked.stdout)["findings"]}
    assert "RA009" not in rules and "RA034" not in rules, checked.stdout


def test_lock_pinned_to_a_sha_ignores_a_moved_branch(
    tmp_path: Path, channel_url: str, index_url: str, repo: dict
) -> None:
    url = f"git+{repo['bare'].as_uri()}"
    write_env(tmp_path, channel_url, f"tinyvcs @ {url}@{repo['first']}")
    assert run(["lock", "--pypi-index-url", index_url], tmp_path).returncode == 0
    before = (tmp_path / "conda-lock.yml").read_bytes()
    second = commit_version(repo["work"], "0.2.0")
    publish(repo["work"], repo["bare"])
    result = run(["lock", "--force", "--pypi-index-url", index_url], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "conda-lock.yml").read_bytes() == before
    assert second not in before.decode()

    # a branch name follows the branch: locked to the commit it names now
    write_env(tmp_path, channel_url, f"tinyvcs @ {url}@main")
    assert run(["lock", "--pypi-index-url", index_url], tmp_path).returncode == 0
    entry = vcs_entry(tmp_path / "conda-lock.yml")["tinyvcs"]
    assert entry["url"] == f"{url}@{second}" and entry["version"] == "0.2.0"


@pytest.mark.parametrize("form", ["git+{}@v0.1#egg=tinyvcs", "-e git+{}@v0.1#egg=tinyvcs"])
def test_egg_fragment_form_is_locked(
    tmp_path: Path, channel_url: str, index_url: str, repo: dict, form: str
) -> None:
    write_env(tmp_path, channel_url, form.format(repo["http"]))
    result = run(["lock", "--pypi-index-url", index_url], tmp_path)
    assert result.returncode == 0, result.stderr
    entry = vcs_entry(tmp_path / "conda-lock.yml")["tinyvcs"]
    assert entry["url"] == f"git+{repo['http']}@{repo['first']}"


def test_missing_ref_is_bad_input_with_its_line(
    tmp_path: Path, channel_url: str, index_url: str, repo: dict
) -> None:
    write_env(tmp_path, channel_url, f"tinyvcs @ git+{repo['bare'].as_uri()}@no-such-tag")
    result = run(["lock", "--pypi-index-url", index_url], tmp_path)
    assert result.returncode == 2, result.stderr
    assert "environment.yml:7" in result.stderr, result.stderr
    assert "no-such-tag" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "conda-lock.yml").exists()


def test_check_flags_a_vcs_entry_on_a_moving_ref(
    tmp_path: Path, channel_url: str, index_url: str, repo: dict
) -> None:
    write_env(tmp_path, channel_url, f"tinyvcs @ git+{repo['http']}@v0.1")
    assert run(["lock", "--pypi-index-url", index_url], tmp_path).returncode == 0
    lockfile = tmp_path / "conda-lock.yml"
    lockfile.write_text(lockfile.read_text().replace(f"@{repo['first']}", "@v0.1"))
    checked = run(["check", "--format", "json"], tmp_path)
    findings = json.loads(checked.stdout)["findings"]
    moving = [f for f in findings if f["rule_id"] == "RA034"]
    assert checked.returncode == 1 and len(moving) == 1, checked.stdout
    assert "tinyvcs" in moving[0]["message"] and "v0.1" in moving[0]["message"]
    assert not [f for f in findings if f["rule_id"] == "RA009"]
    assert re.search(r"\d+", str(moving[0]["line"]))


def test_verify_static_asks_the_remote_for_the_commit(tmp_path: Path, repo: dict) -> None:
    from audit.artifacts import Artifact
    from audit.verify.static import check_artifact
    from audit.verify.verdict import GONE

    def problem(url: str):
        artifact = Artifact("tinyvcs", "0.1.0", "linux-64", url, "", "tinyvcs")
        return check_artifact(artifact, tmp_path / "cache", None, deep=False, timeout=10)

    for remote in (repo["http"], repo["bare"].as_uri()):
        assert problem(f"git+{remote}@{repo['first']}") is None
    gone = problem(f"git+{repo['http']}@{'0' * 40}")
    assert gone is not None and gone.status == GONE and "0" * 40 in gone.reason
    # a history rewrite that drops the locked commit: gone, over both transports
    git(repo["work"], "checkout", "-q", "--orphan", "rewritten")
    commit_version(repo["work"], "9.0.0")
    git(repo["work"], "push", "-q", "--force", str(repo["bare"]), "rewritten:main")
    git(repo["bare"], "tag", "-d", "v0.1")
    git(repo["bare"], "reflog", "expire", "--expire=now", "--all")
    git(repo["bare"], "gc", "-q", "--prune=now")
    git(repo["bare"], "update-server-info")
    for remote in (repo["http"], repo["bare"].as_uri()):
        lost = problem(f"git+{remote}@{repo['first']}")
        assert lost is not None and lost.status == GONE, remote
    moving = problem(f"git+{repo['http']}@main")
    assert moving is not None and "main" in moving.reason


def test_build_stages_a_wheel_built_from_the_locked_commit(
    tmp_path: Path, channel_url: str, index_url: str, repo: dict
) -> None:
    """The staged environment holds the package as built from exactly the locked commit."""
    import tarfile

    from audit.build.materialize import materialize

    write_env(tmp_path, channel_url, f"tinyvcs @ git+{repo['http']}@main")
    assert run(["lock", "--pypi-index-url", index_url], tmp_path).returncode == 0
    # main moves after the lock: the build must still use the locked commit
    commit_version(repo["work"], "0.2.0")
    publish(repo["work"], repo["bare"])
    prefix = "/opt/conda/envs/vcs"
    staged = materialize(tmp_path / "conda-lock.yml", "linux-64", prefix, tmp_path / "cache")
    [entry] = [p for p in staged.pip if p["name"] == "tinyvcs"]
    assert entry["built_from_source"] == f"git+{repo['http']}@{repo['first']}"
    assert entry["url"] == entry["built_from_source"] and re.fullmatch(
        r"[0-9a-f]{64}", entry["sha256"]
    )
    site = "opt/conda/envs/vcs/lib/python3.11/site-packages"
    with tarfile.open(staged.tar_path) as tar:
        module = tar.extractfile(f"{site}/tinyvcs/__init__.py").read().decode()
        names = tar.getnames()
    assert '__version__ = "0.1.0"' in module
    assert f"{site}/tinyvcs-0.1.0.dist-info/METADATA" in names
    built = list((tmp_path / "cache" / "vcs-wheels" / repo["first"]).glob("*.whl"))
    assert [w.name for w in built] == ["tinyvcs-0.1.0-py3-none-any.whl"]
    # a second stage reuses the wheel cached by the commit: the same bytes
    again = materialize(
        tmp_path / "conda-lock.yml", "linux-64", prefix, tmp_path / "cache", reuse_stage=False
    )
    assert again.tar_sha256 == staged.tar_sha256


def test_dynamic_metadata_is_built_by_uv(tmp_path: Path, channel_url: str, index_url: str) -> None:
    """A project whose version is dynamic: uv builds its metadata (only that package)."""
    work = tmp_path / "dyn"
    (work / "_backend").mkdir(parents=True)
    (work / "pyproject.toml").write_text(
        PYPROJECT.replace('version = "{version}"', 'dynamic = ["version"]')
    )
    (work / "_backend" / "tinybackend.py").write_text(
        "import os\n"
        "def get_requires_for_build_wheel(config_settings=None):\n    return []\n"
        "def prepare_metadata_for_build_wheel(directory, config_settings=None):\n"
        "    info = os.path.join(directory, 'tinyvcs-0.7.dist-info')\n"
        "    os.makedirs(info)\n"
        "    with open(os.path.join(info, 'METADATA'), 'w') as f:\n"
        "        f.write('Metadata-Version: 2.1\\nName: tinyvcs\\nVersion: 0.7\\n')\n"
        "    return 'tinyvcs-0.7.dist-info'\n"
    )
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "dynamic")
    sha = git(work, "rev-parse", "HEAD")
    write_env(tmp_path, channel_url, f"git+{work.as_uri()}@main#egg=tinyvcs")
    result = run(["lock", "--pypi-index-url", index_url], tmp_path)
    assert result.returncode == 0, result.stderr
    entry = vcs_entry(tmp_path / "conda-lock.yml")["tinyvcs"]
    assert entry["version"] == "0.7" and entry["url"] == f"git+{work.as_uri()}@{sha}"


def test_credentials_stay_placeholders_or_are_stripped(
    tmp_path: Path, channel_url: str, index_url: str, repo: dict
) -> None:
    """A private repository: `${VAR}` kept in the lock, a literal password never written."""
    with serve_directory(repo["bare"].parent, auth=("ci", "s3cret-pw")) as url:
        host = url.removeprefix("http://")
        placeholder = f"git+http://${{GIT_USER}}:${{GIT_PASS}}@{host}/tinyvcs.git"
        write_env(tmp_path, channel_url, f"tinyvcs @ {placeholder}@v0.1")
        env = {"GIT_USER": "ci", "GIT_PASS": "s3cret-pw"}
        result = run(["lock", "--pypi-index-url", index_url], tmp_path, **env)
        assert result.returncode == 0, result.stderr
        entry = vcs_entry(tmp_path / "conda-lock.yml")["tinyvcs"]
        assert entry["url"] == f"{placeholder}@{repo['first']}"

        literal = tmp_path / "literal"
        literal.mkdir()
        write_env(
            literal, channel_url, f"tinyvcs @ git+http://ci:s3cret-pw@{host}/tinyvcs.git@v0.1"
        )
        result = run(["lock", "--pypi-index-url", index_url], literal)
        assert result.returncode == 0, result.stderr
        entry = vcs_entry(literal / "conda-lock.yml")["tinyvcs"]
        assert entry["url"] == f"git+http://{host}/tinyvcs.git@{repo['first']}"
        for path in (tmp_path / "conda-lock.yml", literal / "conda-lock.yml"):
            assert "s3cret-pw" not in path.read_text()
        assert "s3cret-pw" not in (literal / "conda-linux-64.lock").read_text()
        assert "s3cret-pw" not in result.stdout + result.stderr


def test_unreachable_git_host_is_infrastructure(
    tmp_path: Path, channel_url: str, index_url: str
) -> None:
    from support.registry import free_port

    url = f"git+http://127.0.0.1:{free_port()}/tinyvcs.git@v0.1"
    write_env(tmp_path, channel_url, f"tinyvcs @ {url}")
    result = run(["lock", "--pypi-index-url", index_url], tmp_path)
    assert result.returncode == 3, result.stderr
    assert "does not exist" not in result.stderr and "Traceback" not in result.stderr


REAL_LOCK = Path(
    "/work/shared/data/lockfiles/conda-lock/tests/test-v2-to-v3-upgrade/conda-lock-v2.5.8.yml"
)


@pytest.mark.skipif(not REAL_LOCK.is_file(), reason=f"real conda-lock file absent: {REAL_LOCK}")
def test_real_conda_lock_file_with_git_entries_is_read() -> None:
    """conda-lock writes a git entry with the commit in `hash.sha256` (40 hex) and a
    `source:`; rattler refuses such an entry, so its reader gets the lock without them."""
    from audit.lockfile.condalock import without_vcs_entries
    from audit.lockfile.scan import scan_lock
    from audit.lockfile.vcs import parse_vcs_url

    text = REAL_LOCK.read_text()
    git_entries = [e for e in scan_lock(text).entries if e.url.startswith("git+")]
    assert git_entries and all(e.manager == "pip" for e in git_entries)
    assert all(parse_vcs_url(e.url).pinned for e in git_entries)
    before = yaml.safe_load(text)
    after = yaml.safe_load(without_vcs_entries(text))
    assert after["metadata"] == before["metadata"]
    assert after["package"] == [
        p for p in before["package"] if not str(p.get("url", "")).startswith("git+")
    ]
    assert len(before["package"]) - len(after["package"]) == len(git_entries)
