"""VCS pip entries of a lock: `git+https://host/repo.git@<40-hex sha>`, read and fetched.

conda-lock writes a pip package installed from git as a `manager: pip` entry whose `url`
is the VCS URL at the resolved commit and whose `hash` is empty: the commit *is* the hash.
This module says whether an entry's URL is such a pin and fetches exactly that commit
(what `verify` asks of the remote, and what reads a package's dependencies at that commit).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from audit.core.errors import InfrastructureError
from audit.core.git import first_line, run_git
from audit.core.redact import redact_url

VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
_SHA = re.compile(r"[0-9a-f]{40}")
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_GIT_TIMEOUT = 300.0


@dataclass(frozen=True)
class VcsUrl:
    """`git+https://host/repo.git@ref#frag` split into the remote and the ref."""

    vcs: str  # git, hg, svn, bzr
    remote: str  # the clone URL, without the `git+` prefix, ref or fragment
    ref: str  # '' when the URL names none

    @property
    def pinned(self) -> bool:
        """Pinned to a full commit sha (a branch or tag name can move)."""
        return self.vcs == "git" and bool(_SHA.fullmatch(self.ref))


def is_vcs(url: str) -> bool:
    return url.startswith(VCS_PREFIXES)


def parse_vcs_url(url: str) -> VcsUrl | None:
    """The parts of a VCS URL, None for any other URL."""
    if not is_vcs(url):
        return None
    vcs, _, rest = url.partition("+")
    rest = rest.split("#", 1)[0]
    scheme, sep, tail = rest.partition("://")
    path_start = tail.find("/")
    path = tail[path_start:] if path_start >= 0 else ""
    ref = ""
    if "@" in path:
        path, ref = path.rsplit("@", 1)
        tail = tail[:path_start] + path
    return VcsUrl(vcs, f"{scheme}{sep}{tail}", ref)


def pinned_url(remote: str, commit: str) -> str:
    """The URL a lock records: `git+<remote>@<sha>`, literal credentials removed."""
    return redact_url(f"git+{remote}@{commit}")


def _expand(url: str) -> str:
    """`${VAR}` placeholders expanded in memory (the lock keeps them unexpanded)."""
    return _ENV_VAR.sub(lambda m: os.environ.get(m.group(1), m.group(0)), url)


def fetch_commit(remote: str, commit: str, into: Path) -> str | None:
    """Fetch `commit` of `remote` into a bare repository at `into`.

    None when the commit is there; otherwise git's complaint (one line, redacted). A
    by-sha fetch is tried first (smart HTTP and file://); servers that refuse it (the
    dumb protocol, older servers) get a fetch of every ref and a look for the commit.
    """
    url = _expand(remote)
    into.mkdir(parents=True, exist_ok=True)
    run_git(["init", "--quiet", "--bare", str(into)], cwd=into)
    env_args = ["-c", "protocol.file.allow=always"]
    done = run_git(
        [*env_args, "fetch", "--quiet", "--depth", "1", url, commit], cwd=into, timeout=_GIT_TIMEOUT
    )
    if done.returncode != 0:
        done = run_git(
            [*env_args, "fetch", "--quiet", url, "+refs/*:refs/remote/*"],
            cwd=into,
            timeout=_GIT_TIMEOUT,
        )
        if done.returncode != 0:
            return redact_url(first_line(done, "git fetch failed"))
    has = run_git(["cat-file", "-e", f"{commit}^{{commit}}"], cwd=into)
    return None if has.returncode == 0 else f"commit {commit} not found"


def commit_exists(remote: str, commit: str) -> str | None:
    """None when `remote` still serves `commit`, else why not (for `verify` static)."""
    with tempfile.TemporaryDirectory(prefix="repro-audit-vcs-") as tmp:
        try:
            return fetch_commit(remote, commit, Path(tmp) / "repo.git")
        except OSError as exc:
            raise InfrastructureError(f"cannot run git: {exc}") from None


def static_dependencies(remote: str, commit: str) -> list[str] | None:
    """`[project].dependencies` of pyproject.toml at `commit` (PEP 621 static metadata).

    None when the commit cannot be fetched or declares its dependencies dynamically.
    """
    import tomllib

    with tempfile.TemporaryDirectory(prefix="repro-audit-vcs-") as tmp:
        repo = Path(tmp) / "repo.git"
        if fetch_commit(remote, commit, repo) is not None:
            return None
        shown = run_git(["show", f"{commit}:pyproject.toml"], cwd=repo)
        if shown.returncode != 0:
            return None
        try:
            project = tomllib.loads(shown.stdout.decode("utf-8")).get("project") or {}
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None
        if "dependencies" in (project.get("dynamic") or []):
            return None
        return [str(d) for d in project.get("dependencies") or []]
