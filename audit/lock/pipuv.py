"""One `uv pip compile` per platform, and its failures as errors a user can act on.

uv resolves for any target from Linux (`--python-platform`) and writes PEP 751
`pylock.toml`. Its stderr becomes one line naming the requirement and platform: exit 2
for bad input, exit 3 when an index cannot be reached.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

from audit.core import credentials
from audit.core.errors import InfrastructureError, InputError
from audit.core.redact import redact_url
from audit.lock.pipconda import write_stub_wheel
from audit.lock.piptags import Target
from audit.lockfile.vcs import parse_vcs_url

_UV_TIMEOUT = 1800.0

# uv's stderr when the network, not the input, is at fault (uv 0.13 wording).
_INFRA_PATTERNS = re.compile(
    r"error sending request|connection refused|dns error|failed to lookup address"
    r"|tcp connect error|timed out|connection reset|network is unreachable"
    r"|request failed after \d+ retr|server error \(5\d\d"
    r"|could not resolve host|failed to connect to",  # git's wording (VCS requirements)
    re.IGNORECASE,
)


_UV_LOCK = threading.Lock()
_UV_PATH: list[str] = []


def _uv_binary() -> str:
    """uv's executable, found once under a lock.

    `uv.find_uv_bin` reads `sysconfig`, whose lazy initialisation is not thread-safe
    (concurrent first calls see `EXE` as None), and the caller locks platforms in threads.
    """
    with _UV_LOCK:
        if not _UV_PATH:
            try:
                from uv import find_uv_bin

                _UV_PATH.append(find_uv_bin())
            except (ImportError, FileNotFoundError, TypeError) as exc:
                raise InfrastructureError(
                    f"uv is not available ({exc})",
                    hint="install repro-audit with its uv dependency",
                ) from None
        return _UV_PATH[0]


def run_uv(
    requirements: Sequence[str],
    target: Target,
    workdir: Path,
    *,
    provided: Mapping[str, tuple[str, str]],
    index_url: str | None,
    extra_index_urls: Sequence[str],
    cache_dir: Path | None,
    options: UvOptions | None = None,
    exclude_newer: str | None = None,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Write req.in / constraints / stubs into `workdir`, run one `uv pip compile`."""
    options = options or UvOptions()
    req_in = workdir / "req.in"
    req_in.write_text("".join(f"{r}\n" for r in requirements), encoding="utf-8")
    out = workdir / "out" / "pylock.toml"
    out.parent.mkdir()
    cmd = [
        _uv_binary(),
        "pip",
        "compile",
        str(req_in),
        "--python",
        sys.executable,  # no interpreter discovery: the target comes from the flags below
        "--python-version",
        target.python_version,
        "--python-platform",
        target.uv_platform,
        "--format",
        "pylock.toml",
        "-o",
        str(out),
        "--no-header",
        "--quiet",
        "--only-binary",
        ":all:",
        "--no-config",
        "--no-python-downloads",
        "--color",
        "never",
    ]
    if provided:
        stubs = workdir / "conda-stubs"
        stubs.mkdir()
        constraints = workdir / "constraints.txt"
        lines = []
        for name, (version, _) in sorted(provided.items()):
            write_stub_wheel(stubs, name, version)
            # `==public` admits the stub's local label (`==1.0+cpu` would not admit `1.0+cpu.conda`)
            lines.append(f"{name}=={Version(version).public}\n")
        constraints.write_text("".join(lines), encoding="utf-8")
        cmd += ["-c", str(constraints), "--find-links", str(stubs)]
    cmd += options.arguments(workdir)
    for name in _vcs_names(requirements):
        cmd += ["--no-binary", name]  # uv may build exactly these, for their metadata
    if cache_dir is not None:
        cmd += ["--cache-dir", str(Path(cache_dir) / "uv")]
    if exclude_newer is not None:
        cmd += ["--exclude-newer", exclude_newer]  # `lock --as-of`: PyPI as it stood then
    env = dict(os.environ)
    env.update(target.uv_env)
    env.pop("FORCE_COLOR", None)
    # Index URLs go through the environment: credentials stay out of the process list.
    if index_url:
        env["UV_INDEX_URL"] = credentials.current().with_userinfo(index_url)
        env.pop("UV_DEFAULT_INDEX", None)
    if extra_index_urls:
        env["UV_EXTRA_INDEX_URL"] = " ".join(
            credentials.current().with_userinfo(u) for u in extra_index_urls
        )
        env.pop("UV_INDEX", None)
    try:
        proc = subprocess.run(
            cmd,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=_UV_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InfrastructureError(
            f"uv did not finish resolving the pip packages for {target.platform}"
            f" within {int(_UV_TIMEOUT)} s"
        ) from None
    except OSError as exc:
        raise InfrastructureError(f"cannot run uv: {exc.strerror}") from None
    return proc, out


def _vcs_names(requirements: Sequence[str]) -> list[str]:
    """Names of the VCS requirements (a bare URL: its repository's name), sorted.

    A VCS checkout has no wheel: uv builds its metadata when the project declares it
    dynamically, which `--only-binary :all:` forbids unless the package is exempted.
    """
    names: set[str] = set()
    for req in requirements:
        url = req.split(" @ ", 1)[1].strip() if " @ " in req else req
        parsed = parse_vcs_url(url.split(";", 1)[0].strip())
        if parsed is None:
            continue
        repo = parsed.remote.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        names.add(requirement_name(req) if " @ " in req else canonicalize_name(repo))
    return sorted(n for n in names if n)


@dataclass(frozen=True)
class UvOptions:
    """The pip section's own options: `--find-links`, `--pre`, `-c` lines."""

    find_links: tuple[str, ...] = ()
    pre: bool = False
    constraints: tuple[str, ...] = ()

    def arguments(self, workdir: Path) -> list[str]:
        out: list[str] = []
        for link in self.find_links:
            out += ["--find-links", link]
        if self.pre:
            out += ["--prerelease", "allow"]
        if self.constraints:
            path = workdir / "user-constraints.txt"
            path.write_text("".join(f"{c}\n" for c in self.constraints), encoding="utf-8")
            out += ["-c", str(path)]
        return out


@dataclass(frozen=True)
class _UvError:
    """uv's stderr, split into its `error:` line, `cause:` blocks and hints."""

    error: str
    causes: tuple[str, ...]
    hints: tuple[str, ...]

    @classmethod
    def parse(cls, stderr: str) -> _UvError:
        error = ""
        causes: list[list[str]] = []
        hints: list[list[str]] = []
        current: list[str] | None = None
        for raw in stderr.splitlines():
            line = raw.strip()
            if not line:
                current = None
                continue
            low = line.lower()
            if low.startswith("error:") and not error:
                error, current = line[6:].strip(), None
            elif low.startswith(("cause:", "caused by:")):
                causes.append([line.split(":", 1)[1].strip()])
                current = causes[-1]
            elif low.startswith("hint:"):
                hints.append([line[5:].strip()])
                current = hints[-1]
            elif current is not None and set(line) <= {"^", " "}:
                if len(current) > 1:
                    current.pop()  # uv echoes the offending input above its carets
            elif current is not None:
                current.append(line)
        if not error:
            lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
            error = lines[0] if lines else "uv failed without a message"
        return cls(error, tuple(" ".join(c) for c in causes), tuple(" ".join(h) for h in hints))

    @property
    def key_line(self) -> str:
        """The line that says what is wrong: the first cause, else the error itself."""
        return self.causes[0] if self.causes else self.error


def _one_line(text: str) -> str:
    return redact_url(re.sub(r"\s+", " ", text).strip())


def _blamed_requirement(requirements: Sequence[str], req_text: str, stderr: str) -> str:
    """Which requirement uv complains about: by position, by name, else all of them."""
    match = re.search(r"at position (\d+)", stderr)
    if match:
        line_no = req_text[: int(match.group(1))].count("\n")
        if line_no < len(requirements):
            return requirements[line_no]
    match = re.search(r"req\.in:(\d+)", stderr)
    if match and 0 < int(match.group(1)) <= len(requirements):
        return requirements[int(match.group(1)) - 1]
    tokens = {canonicalize_name(t) for t in re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*", stderr)}
    required = {
        canonicalize_name(m)
        for m in re.findall(r"you require (?:one of: )?([A-Za-z0-9._-]+)", stderr)
    }
    named = [r for r in requirements if requirement_name(r) in required] or [
        r for r in requirements if requirement_name(r) in tokens
    ]
    return ", ".join(named or requirements)


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return canonicalize_name(match.group(1)) if match else ""


def raise_uv_failure(
    proc: subprocess.CompletedProcess[str],
    requirements: Sequence[str],
    target: Target,
    provided: Mapping[str, tuple[str, str]],
    source: str,
) -> None:
    stderr = proc.stderr or ""
    parsed = _UvError.parse(stderr)
    if _INFRA_PATTERNS.search(stderr):
        fetched = re.search(r"(?:Failed to fetch|for url)[:\s(]+`?(\S+?)[`)]?(?:\s|$)", stderr)
        reason = parsed.causes[-1] if parsed.causes else parsed.error
        raise InfrastructureError(
            f"pip index unreachable while locking for {target.platform}: {_one_line(reason)}",
            where=source,
            hint=_one_line(f"fetching {fetched.group(1)}") if fetched else None,
        )
    blamed = _blamed_requirement(requirements, "".join(f"{r}\n" for r in requirements), stderr)
    missing_ref = re.search(r"failed to fetch (?:branch or tag|commit) `([^`]+)`", stderr)
    if "couldn't find remote ref" in stderr or (missing_ref and "unable to access" not in stderr):
        ref = missing_ref.group(1) if missing_ref else "?"
        raise InputError(
            f"pip requirement '{redact_url(blamed)}' on {target.platform}:"
            f" git ref '{ref}' does not exist in its repository",
            where=source,
            hint="name an existing branch, tag or commit",
        )
    hints = list(parsed.hints)
    text = stderr.lower()
    if (
        "no usable wheels" in text
        or "building source distributions" in text
        or "no wheels with a matching platform tag" in text
    ):
        # uv blames `--no-build`, a flag the user never gave: say why in our terms
        hints = [h for h in hints if "--no-build" not in h and "from source" not in h]
        hints.insert(0, "repro-audit locks wheels only; no wheel fits this platform")
    conda_named = sorted(
        f"{name} {version} (conda package {conda})"
        for name, (version, conda) in provided.items()
        if re.search(rf"(?<![\w.-]){re.escape(name)}(?:[=<>!~ ,]|$)", text)
    )
    if conda_named:
        hints.insert(0, "provided by the conda solve: " + ", ".join(conda_named))
    raise InputError(
        f"pip requirement '{blamed}' on {target.platform}: {_one_line(parsed.key_line)}",
        where=source,
        hint=_one_line("; ".join(hints)) if hints else None,
    )
