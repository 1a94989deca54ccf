"""git, read without a checkout: one subprocess wrapper and one repository reader.

Every command that looks at history (`drift`, `inventory git:…`, `verify git:…`, `check`'s
lock age) goes through here, so "git is missing", "not a repository" and "unknown
revision" read the same everywhere. Objects are read through one long-lived
`git cat-file --batch`, which is what makes walking a lock's history cheap.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from audit.core.errors import InfrastructureError, InputError


def run_git(
    args: list[str],
    cwd: Path | None = None,
    timeout: float | None = None,
    data: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """`git ARGS` in `cwd` (default: here), `data` on stdin, output captured, never raising
    on a non-zero exit."""
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, check=False, timeout=timeout, input=data
        )
    except FileNotFoundError:
        raise InfrastructureError("git is not installed", hint="install git") from None


def first_line(done: subprocess.CompletedProcess[bytes], default: str) -> str:
    """git's last stderr line (its actual complaint), or `default`."""
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else default


@dataclass(frozen=True)
class Commit:
    sha: str
    time: int
    subject: str


class GitRepo:
    """A repository read through `git log` and one persistent `git cat-file --batch`."""

    def __init__(self, path: Path) -> None:
        path = Path(path)
        if not path.exists():
            raise InputError("no such directory", where=str(path))
        start = path if path.is_dir() else path.parent
        top = run_git(["rev-parse", "--show-toplevel"], start)
        if top.returncode != 0:
            raise InputError("not inside a git repository", where=str(path))
        self.top = Path(top.stdout.decode().strip())
        prefix = run_git(["rev-parse", "--show-prefix"], start)
        #: where `path` sits inside the repository (`services/ml/`), "" at the top
        self.prefix = prefix.stdout.decode().strip() if prefix.returncode == 0 else ""
        self._batch: subprocess.Popen[bytes] | None = None

    def git(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return run_git(list(args), self.top)

    def relpath(self, path: Path) -> str:
        """`path` (absolute or relative to the cwd) as a repository path, POSIX style."""
        resolved = Path(path).resolve()
        try:
            return resolved.relative_to(self.top.resolve()).as_posix()
        except ValueError:
            raise InputError(f"{path} is outside the repository {self.top}") from None

    def rev_parse(self, rev: str) -> str:
        """The commit sha of `rev`; InputError for an unknown revision."""
        done = self.git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
        if done.returncode != 0:
            raise InputError(f"unknown git revision {rev!r}", where=str(self.top))
        return done.stdout.decode().strip()

    def log(self, path: str, *, limit: int | None = None, since: str | None = None) -> list[Commit]:
        """Commits that touched `path`, newest first (`since..HEAD` or the last `limit`)."""
        args = ["log", "--format=%H%x00%ct%x00%s", "--no-show-signature"]
        if limit is not None:
            args.append(f"-n{limit}")
        args.append(f"{since}..HEAD" if since else "HEAD")
        done = self.git(*args, "--", path)
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace").strip()
            if "does not have any commits" in message:
                return []
            raise InputError(f"git log failed: {first_line(done, 'unknown error')}")
        commits = []
        for line in done.stdout.decode("utf-8", errors="replace").splitlines():
            sha, ctime, subject = (line.split("\x00") + ["", ""])[:3]
            if sha:
                commits.append(Commit(sha, int(ctime or 0), subject))
        return commits

    def read(self, rev: str, path: str) -> tuple[str, bytes] | None:
        """(blob sha, bytes) of `path` at `rev`, or None when absent there."""
        if self._batch is None:
            self._batch = subprocess.Popen(
                ["git", "cat-file", "--batch"],
                cwd=self.top,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        assert self._batch.stdin is not None and self._batch.stdout is not None
        self._batch.stdin.write(f"{rev}:{path}\n".encode())
        self._batch.stdin.flush()
        header = self._batch.stdout.readline()
        parts = header.split()
        if len(parts) != 3 or parts[1] != b"blob":
            if len(parts) == 3:  # a tree or commit: consume its body, it is not a file
                self._batch.stdout.read(int(parts[2]) + 1)
            return None
        data = self._batch.stdout.read(int(parts[2]))
        self._batch.stdout.read(1)  # the newline after each object
        return parts[0].decode(), data

    def archive(self, rev: str) -> bytes:
        """The whole tree at `rev` as a tar (`git archive`)."""
        done = self.git("archive", "--format=tar", "--end-of-options", f"{rev}^{{commit}}")
        if done.returncode != 0:
            raise InputError(
                f"cannot read revision {rev!r}: {first_line(done, 'git archive failed')}"
            )
        return done.stdout

    def close(self) -> None:
        if self._batch is not None:
            if self._batch.stdin is not None:
                self._batch.stdin.close()
            self._batch.wait(timeout=10)
            if self._batch.stdout is not None:
                self._batch.stdout.close()
            self._batch = None

    def __enter__(self) -> GitRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
