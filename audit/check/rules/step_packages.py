"""Rules for package managers run in a RUN step: conda/mamba, pip, apt/apk/dnf, npm/gem.

Each function takes one command (already unwrapped: `sudo`, `conda run`, `sh -c` are gone)
and yields `(rule_id, message)` pairs; the caller adds file:line. A word holding a shell
variable (`$PKGS`, `python=$PY`) is judged by what is written: `numpy==$V` is pinned,
`$PKGS` alone is not judged at all (its value is not in the file).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from audit.dockerfile.shell import Command

Hit = tuple[str, str]

CONDA_TOOLS = frozenset({"conda", "mamba", "micromamba"})
_CONDA_SOLVING = frozenset({"install", "create", "update", "upgrade"})
_CONDA_VALUE_OPTS = frozenset(
    {
        "-n",
        "--name",
        "-p",
        "--prefix",
        "-c",
        "--channel",
        "-f",
        "--file",
        "--override-channels",
        "--platform",
        "--subdir",
        "--repodata-fn",
        "--experimental-solver",
        "--solver",
        "-r",
        "--root-prefix",
        "--rc-file",
        "--channel-priority",
        "--strict-channel-priority",
    }
)
_CONDA_FLAG_ONLY = frozenset({"--override-channels", "--strict-channel-priority"})
_LOCK_FILE_RE = re.compile(
    r"(?:^|[/_.-])(?:conda-)?lock(?:file)?(?:[._-]|$)|\.lock$|explicit", re.I
)
_SPEC_NAME_RE = re.compile(r"^(?:[^:]+::)?([A-Za-z0-9_][A-Za-z0-9_.\-]*)")


@dataclass(frozen=True)
class Locked:
    """What the project's lock holds, for lock-aware rules (empty without a lock)."""

    conda: dict[str, str] = field(default_factory=dict)  # name → version
    pip: dict[str, str] = field(default_factory=dict)  # PEP 503 name → version
    pip_hosts: frozenset[str] = frozenset()

    @property
    def present(self) -> bool:
        return bool(self.conda or self.pip)

    def version_of(self, name: str) -> str | None:
        from packaging.utils import canonicalize_name

        lowered = name.lower()
        return self.conda.get(lowered) or self.pip.get(str(canonicalize_name(name)))


def _positional(words: tuple[str, ...], value_opts: frozenset[str]) -> list[str]:
    """Arguments that are not options (nor values of options that take one)."""
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            skip = word in value_opts and "=" not in word
            continue
        out.append(word)
    return out


def _option_values(words: tuple[str, ...], names: frozenset[str]) -> list[str]:
    values: list[str] = []
    for index, word in enumerate(words):
        name, eq, value = word.partition("=")
        if name in names:
            if eq:
                values.append(value)
            elif index + 1 < len(words):
                values.append(words[index + 1])
        elif len(name) > 2 and name[:2] in names and not name.startswith("--"):
            values.append(word[2:])  # -rreqs.txt
    return values


# --------------------------------------------------------------------------- conda


def conda_hits(command: Command, locked: Locked) -> Iterator[Hit]:
    """`conda install X`, `conda env create -f environment.yml`, `update --all`: solving."""
    words = command.words
    if command.name not in CONDA_TOOLS or len(words) < 2:
        return
    sub = words[1]
    rest = words[2:]
    if sub == "env" and len(words) > 2 and words[2] in ("create", "update"):
        sub, rest = f"env {words[2]}", words[3:]
    elif sub not in _CONDA_SOLVING:
        return
    values = [w for w in rest if w not in _CONDA_FLAG_ONLY]
    files = _option_values(tuple(values), frozenset({"-f", "--file"}))
    specs = _positional(tuple(values), _CONDA_VALUE_OPTS - _CONDA_FLAG_ONLY)
    if sub.startswith("env") and not files and specs:
        files, specs = specs[:1], []  # `conda env create environment.yml` (old form)
    tool = command.name
    if files and all(_LOCK_FILE_RE.search(f) for f in files) and not specs:
        return  # installs a lock: conda-lock.yml or an explicit conda-<platform>.lock
    if sub == "create" and not files and not specs:
        return  # an empty environment: nothing is solved
    if "--all" in rest or (sub in ("update", "upgrade") and not files):
        what = "everything" if "--all" in rest or not specs else ", ".join(specs)
        yield (
            "RA020",
            (
                f"`{tool} {sub}` updates {what} to whatever the channels serve on the day of the "
                "build; install the lock instead (`repro-audit build`, or `micromamba install -f "
                "conda-lock.yml` / `conda create --file conda-<platform>.lock`)"
            ),
        )
        return
    source = f"{', '.join(files)}" if files else ", ".join(specs) or "the environment"
    yield (
        "RA020",
        (
            f"`{tool} {sub}` solves {source} at build time, so two builds can get different "
            "packages; install the lock instead (`repro-audit build`, or `micromamba install -f "
            "conda-lock.yml` / `conda create --file conda-<platform>.lock`)"
        ),
    )
    if locked.present:
        for spec in specs:
            yield from _unlocked("conda", spec, locked)


def _unlocked(manager: str, spec: str, locked: Locked) -> Iterator[Hit]:
    """RA021: the package is not in the lock, or the step pins another version than it."""
    match = _SPEC_NAME_RE.match(spec)
    if not match or "$" in spec:
        return
    name = match.group(1)
    if manager == "pip":
        name = re.split(r"[\[<>=!~;@ ]", name, maxsplit=1)[0]
    have = locked.version_of(name)
    if have is None:
        yield (
            "RA021",
            (
                f"{name} is installed by this step but is not in the lock: add it to "
                "environment.yml and run `repro-audit lock`"
            ),
        )
        return
    pinned = re.match(r"\s*==?\s*([0-9][^,;*<>!=\s]*)", spec[len(name) :])
    wanted = pinned.group(1) if pinned else None
    if wanted and have != wanted and not have.startswith(wanted + "."):
        yield (
            "RA021",
            (
                f"{name} {wanted} is installed by this step, the lock has {name} {have}: "
                "install the lock's version (the lock is what was reviewed)"
            ),
        )


# --------------------------------------------------------------------------- pip

_PIP_VALUE_OPTS = frozenset(
    {
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-e",
        "--editable",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--upgrade-strategy",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--no-binary",
        "--only-binary",
        "--progress-bar",
        "--cache-dir",
        "--src",
        "--global-option",
        "--config-settings",
        "-C",
        "--trusted-host",
        "--timeout",
        "--retries",
        "--log",
        "--proxy",
        "--exists-action",
        "--report",
        "--python",
        "-p",
    }
)
_PINNED_RE = re.compile(r"===?\s*[^,;*]+$|\s@\s|^[^=<>!~]+@\s*\S+://")
_LOCAL_RE = re.compile(r"^(?:\.|/|~|file:)|\.(?:whl|tar\.gz|zip|tgz)$")
_VCS_RE = re.compile(r"^(?:-e\s*)?(?:\S+\s*@\s*)?(git|hg|svn|bzr)\+\S+")
_SHA_RE = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
_VERSION_REF_RE = re.compile(r"^v?\d+(?:\.\d+)+[\w.+-]*$")


def pip_words(command: Command) -> tuple[str, ...] | None:
    """The arguments after `install` of pip/pip3/`python -m pip`/`uv pip`, else None."""
    words = command.words
    name = command.name
    if re.fullmatch(r"python[\d.]*", name) and len(words) > 2 and words[1:3] == ("-m", "pip"):
        words = words[2:]
    elif name == "uv" and len(words) > 1 and words[1] == "pip":
        words = words[1:]
    elif not re.fullmatch(r"pip[\d.]*", name):
        return None
    if len(words) < 2 or words[1] != "install":
        return None
    return words[2:]


def pip_hits(command: Command, locked: Locked) -> Iterator[Hit]:
    args = pip_words(command)
    if args is None:
        return
    hashed = "--require-hashes" in args
    for req in _option_values(args, frozenset({"-r", "--requirement"})):
        if not hashed and "$" not in req:
            yield (
                "RA023",
                (
                    f"`pip install -r {req}` without --require-hashes installs whatever the index "
                    f"serves for unpinned lines; lock the pip section (`repro-audit lock`) or "
                    "add --require-hashes with a hashed requirements file"
                ),
            )
    yield from _pip_indexes(args, locked)
    for value in _option_values(args, frozenset({"-e", "--editable"})):
        yield from _vcs("pip install -e", value)
    for req in _positional(args, _PIP_VALUE_OPTS):
        yield from _pip_requirement(req, locked)


def _pip_requirement(req: str, locked: Locked) -> Iterator[Hit]:
    if _VCS_RE.match(req):
        yield from _vcs("pip install", req)
        return
    if _LOCAL_RE.search(req) or req.startswith(("http://", "https://")):
        wheel = req.rsplit("/", 1)[-1]
        if locked.present and wheel.endswith(".whl") and "$" not in wheel:
            yield from _unlocked("pip", wheel.split("-", 1)[0], locked)  # name-version-…whl
        return
    if req.startswith("$") or not re.match(r"[A-Za-z0-9]", req):
        return  # a variable: its value is not in the file
    if not _PINNED_RE.search(req):
        yield (
            "RA022",
            (
                f"pip requirement '{req}' has no exact version (==), so each build takes the "
                "newest; pin it, or better, lock the pip section (`repro-audit lock`)"
            ),
        )
    if locked.present:
        yield from _unlocked("pip", req, locked)


def _pip_indexes(args: tuple[str, ...], locked: Locked) -> Iterator[Hit]:
    if not locked.pip_hosts:
        return
    from urllib.parse import urlsplit

    names = frozenset({"-i", "--index-url", "--extra-index-url", "-f", "--find-links"})
    for url in _option_values(args, names):
        host = urlsplit(url).hostname or ""
        if host and "$" not in url and host not in locked.pip_hosts:
            yield (
                "RA025",
                (
                    f"pip index {host} is not where the lock's pip packages come from "
                    f"({', '.join(sorted(locked.pip_hosts))}); install from the lock's index"
                ),
            )


def _vcs(what: str, req: str) -> Iterator[Hit]:
    url = re.sub(r"^\S+\s*@\s*(?=\w+\+)", "", req)
    if not _VCS_RE.match(url):
        return
    location = url.split("#", 1)[0].split("://", 1)[-1]
    path = location.partition("/")[2]  # after the host (which may hold `git@`)
    ref = path.rsplit("@", 1)[1] if "@" in path else ""
    if ref and (_SHA_RE.match(ref) or _VERSION_REF_RE.match(ref) or "$" in ref):
        return
    moving = f"ref @{ref}" if ref else "no ref (the default branch)"
    yield "RA024", (f"`{what} {req}` installs {moving}, which moves; add @<commit sha> to the URL")


# --------------------------------------------------------------------------- OS packages

_APT_VALUE_OPTS = frozenset({"-o", "--option", "-t", "--target-release", "-c", "--config-file"})
_APK_VALUE_OPTS = frozenset(
    {
        "-t",
        "--virtual",
        "-X",
        "--repository",
        "-p",
        "--root",
        "--arch",
        "--cache-dir",
        "--keys-dir",
        "--repositories-file",
    }
)
_RPM_VALUE_OPTS = frozenset({"-x", "--exclude", "--installroot", "--releasever", "-c", "--config"})
_RPM_TOOLS = frozenset({"dnf", "yum", "microdnf", "tdnf", "zypper"})


def os_hits(command: Command) -> Iterator[Hit]:
    """apt/apk/dnf/yum/zypper: installs without versions, and whole-system upgrades."""
    name, words = command.name, command.words
    if len(words) < 2:
        return
    sub = next((w for w in words[1:] if not w.startswith("-")), "")
    if name in ("apt-get", "apt", "aptitude"):
        if sub in ("upgrade", "dist-upgrade", "full-upgrade"):
            yield "RA027", _upgrade_message(f"{name} {sub}")
        elif sub == "install":
            args = words[words.index("install") + 1 :]
            bad = [p for p in _positional(args, _APT_VALUE_OPTS) if _unversioned(p, "=")]
            yield from _unpinned_os(f"{name} install", bad, "pkg=version")
    elif name == "apk":
        if sub == "upgrade" or (sub == "add" and ("--upgrade" in words or "-u" in words)):
            yield "RA027", _upgrade_message(f"apk {sub}")
        if sub == "add":
            args = words[words.index("add") + 1 :]
            bad = [p for p in _positional(args, _APK_VALUE_OPTS) if _unversioned(p, "=~")]
            yield from _unpinned_os("apk add", bad, "pkg=version")
    elif name in _RPM_TOOLS:
        if sub in ("upgrade", "update", "distro-sync", "up", "dup", "dist-upgrade"):
            yield "RA027", _upgrade_message(f"{name} {sub}")
        elif sub in ("install", "in"):
            args = words[words.index(sub) + 1 :]
            bad = [p for p in _positional(args, _RPM_VALUE_OPTS) if _unversioned_rpm(p)]
            yield from _unpinned_os(f"{name} {sub}", bad, "pkg-version")


def _unversioned(package: str, marks: str) -> bool:
    """apt/apk: a version follows `=` (or apk's `~`); `cuda-gdb-${V}` is a name, not a pin."""
    if package.startswith(("$", ".", "/")) or package.endswith((".deb", ".apk")):
        return False  # `$PKGS` may hold versions; files are what they are
    return not any(mark in package for mark in marks)


def _unversioned_rpm(package: str) -> bool:
    """dnf/yum: `name-1.2.3`; a variable after the last `-` may be the version."""
    if package.startswith("$") or package.endswith(".rpm") or "://" in package:
        return False
    if package[:1] in "./@" or "$" in package.rsplit("-", 1)[-1]:
        return False
    return not re.search(r"-\d|=", package)


def _unpinned_os(what: str, packages: list[str], form: str) -> Iterator[Hit]:
    if packages:
        shown = ", ".join(packages[:6]) + (
            f" and {len(packages) - 6} more" if len(packages) > 6 else ""
        )
        yield (
            "RA026",
            (
                f"`{what}` without versions: {shown}; each build gets the mirror's current "
                f"versions. Pin them ({form}) against a fixed snapshot (snapshot.debian.org, "
                "a dated mirror)"
            ),
        )


def _upgrade_message(what: str) -> str:
    return (
        f"`{what}` upgrades every OS package to the mirror's state on the day of the build; "
        "pin the base image by digest and install pinned versions, or use a dated snapshot "
        "(snapshot.debian.org)"
    )


# --------------------------------------------------------------------------- npm, gem

_NPM_VALUE_OPTS = frozenset({"--prefix", "--registry", "--tag", "-w", "--workspace"})


def language_hits(command: Command) -> Iterator[Hit]:
    """npm/yarn/pnpm installs and gem install without versions."""
    name, words = command.name, command.words
    if name in ("npm", "pnpm") and len(words) > 1 and words[1] in ("install", "i", "add"):
        packages = _positional(words[2:], _NPM_VALUE_OPTS)
    elif name == "yarn" and len(words) > 1 and words[1] in ("add", "global"):
        start = 3 if words[1] == "global" and len(words) > 2 and words[2] == "add" else 2
        packages = _positional(words[start:], _NPM_VALUE_OPTS) if start <= len(words) else []
    elif name == "gem" and len(words) > 1 and words[1] == "install":
        if any(w in ("-v", "--version") or w.startswith("--version=") for w in words):
            return
        packages = [
            p
            for p in _positional(words[2:], frozenset({"-i", "--install-dir", "-n"}))
            if ":" not in p and "$" not in p and not p.endswith(".gem")
        ]
        if packages:
            yield "RA032", _language_message("gem install", packages, "name:version or -v")
        return
    else:
        return
    bad = [p for p in packages if _npm_unversioned(p)]
    if bad:
        yield "RA032", _language_message(f"{name} {words[1]}", bad, "name@version")


def _npm_unversioned(package: str) -> bool:
    if "$" in package or package.startswith((".", "/", "git+", "http", "file:")):
        return False
    return "@" not in package.lstrip("@")


def _language_message(what: str, packages: list[str], form: str) -> str:
    return (
        f"`{what}` without versions: {', '.join(packages[:6])}; each build takes the newest. "
        f"Pin them ({form}) or install from a lockfile (`npm ci`)"
    )
