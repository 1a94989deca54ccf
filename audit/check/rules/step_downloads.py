"""Rules for what a build step downloads: piped installers, unchecked files, moving URLs, git.

A download is judged per RUN step, because a layer is what one step leaves behind: a file
fetched and run (or unpacked) in a step that never checks its digest or signature is
unverified, whatever a later step does. Any `sha256sum`/`sha512sum`/`shasum`/`gpg --verify`
/`gpgv`/`cosign verify`/`minisign -V` in the same step counts as the check.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from audit.dockerfile.shell import Command

Hit = tuple[str, str]

FETCHERS = frozenset({"curl", "wget"})
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh"})
_INTERPRETERS = _SHELLS | frozenset({"python", "python3", "perl", "node", "ruby", "php"})
_URL_RE = re.compile(r"^(?:https?|ftp)://", re.I)
_SUBSTITUTED_FETCH = re.compile(r"(?:\$\(|`|<\()\s*(?:curl|wget)\b")
_MOVING_RE = re.compile(
    r"(?:^|[/_.=-])latest(?:[/_.-]|$)"
    r"|raw\.githubusercontent\.com/[^/]+/[^/]+/(?:main|master|HEAD)/"
    r"|github\.com/[^/]+/[^/]+/archive/(?:refs/heads/)?(?:main|master)\.",
    re.I,
)
_SHA_RE = re.compile(r"^[0-9a-f]{7,64}$")
_VERSION_REF_RE = re.compile(r"^v?\d+(?:\.\d+)+[\w.+-]*$")


def urls(command: Command) -> list[str]:
    """The http(s)/ftp URLs a curl/wget command fetches."""
    if command.name not in FETCHERS:
        return []
    return [w for w in command.words[1:] if _URL_RE.match(w)]


def is_verification(command: Command) -> bool:
    name, words = command.name, command.words
    if re.fullmatch(r"(?:sha(?:1|224|256|384|512)|md5|b2)sum|shasum", name):
        return True
    if name == "gpg" and any(w in ("--verify", "--verify-files") for w in words):
        return True
    if name in ("gpgv", "gpgv2"):
        return True
    if name == "cosign" and len(words) > 1 and words[1].startswith("verify"):
        return True
    if name == "minisign" and "-V" in words:
        return True
    return name == "openssl" and len(words) > 1 and words[1] in ("dgst", "sha256")


def _runs_or_unpacks(command: Command) -> bool:
    """Does the command execute, unpack or install a file (what makes a download matter)?"""
    name, words = command.name, command.words
    if name in _INTERPRETERS and len(words) > 1 and not words[1].startswith("-"):
        return True
    if words[0].startswith("./") or (
        words[0].startswith("/tmp/") or words[0].endswith((".sh", ".run", ".bin"))
    ):
        return True
    if name == "tar" and len(words) > 1 and ("x" in words[1].lstrip("-") or "--extract" in words):
        return True
    if name in ("unzip", "gunzip", "bunzip2", "7z", "install") or (name == "xz" and "-d" in words):
        return True
    if name in ("dpkg", "rpm") and any(re.match(r"^-[a-zA-Z]*[iU]", w) for w in words[1:]):
        return True
    if name == "chmod" and any(
        re.match(r"^(?:[ugoa]*\+[rwx]*x|[0-7]?[0-7][1357][0-7]*)$", w) for w in words[1:]
    ):
        return True
    return name in ("mv", "cp") and any("/bin" in w for w in words[2:])


@dataclass(frozen=True)
class Download:
    """A file fetched by a step and not yet checked: run in a later step, it is a finding."""

    command: Command
    url: str
    target: str  # base name of the file written ("" when unknown)


def download_hits(
    commands: tuple[Command, ...], pending: list[Download]
) -> Iterator[tuple[Command, str, str]]:
    """Piped installers, unverified downloads and moving URLs of one step.

    `pending` holds the unchecked downloads of earlier steps: a command of this step that
    runs one of them (and no check here) yields a finding for it (its command is the
    earlier step's). This step's unchecked, unused downloads are appended to it.
    """
    verified = any(is_verification(c) for c in commands)
    runners = [c for c in commands if c.name not in FETCHERS and _runs_or_unpacks(c)]
    if not verified:
        for earlier in list(pending):
            if earlier.target and any(_uses(c, earlier.target) for c in runners):
                pending.remove(earlier)
                yield earlier.command, "RA029", _unverified(earlier.url, later=True)
    for command in commands:
        if _SUBSTITUTED_FETCH.search(command.words[0]) or (
            command.name in _INTERPRETERS
            and any(_SUBSTITUTED_FETCH.search(w) for w in command.words[1:])
        ):
            yield command, "RA028", _pipe_message(command.words[0])
            continue
        fetched = urls(command)
        if not fetched:
            continue
        yield from _fetch_hits(command, fetched, verified, runners, pending)


def _fetch_hits(
    command: Command,
    fetched: list[str],
    verified: bool,
    runners: list[Command],
    pending: list[Download],
) -> Iterator[tuple[Command, str, str]]:
    sink = command.pipe_to[0].rsplit("/", 1)[-1] if command.pipe_to else ""
    for url in fetched:
        if _MOVING_RE.search(url):
            yield (
                command,
                "RA031",
                (
                    f"{url} is a moving URL (latest/branch): the next build may fetch other "
                    "bytes; use a versioned URL and check its sha256"
                ),
            )
    if sink in _INTERPRETERS:
        yield command, "RA028", _pipe_message(f"{command.name} {fetched[0]} | {sink}")
        return
    if verified:
        return
    if sink:
        if _runs_or_unpacks(_pipe_command(command)):
            yield command, "RA029", _unverified(fetched[0])
        return
    target = _target(command, fetched[0])
    if any(_uses(c, target) for c in runners) if target else bool(runners):
        yield command, "RA029", _unverified(fetched[0])
    elif target:
        pending.append(Download(command, fetched[0], target))


def _target(command: Command, url: str) -> str:
    """Base name of the file curl/wget writes ("" for stdout or when it cannot be told)."""
    words = command.words
    names = ("-o", "--output") if command.name == "curl" else ("-O", "--output-document")
    for index, word in enumerate(words):
        value = None
        if word in names and index + 1 < len(words):
            value = words[index + 1]
        elif word.startswith(tuple(n + "=" for n in names if n.startswith("--"))):
            value = word.split("=", 1)[1]
        if value is not None:
            return "" if value == "-" else value.rstrip("/").rsplit("/", 1)[-1]
    remote_name = command.name == "wget" or any(
        w in ("-O", "--remote-name") or re.fullmatch(r"-[a-zA-Z]*O[a-zA-Z]*", w) for w in words
    )
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] if remote_name else ""


def _uses(command: Command, target: str) -> bool:
    return any(w == target or w.endswith("/" + target) for w in command.words[1:]) or (
        command.words[0].endswith("/" + target) or command.words[0] == target
    )


def _unverified(url: str, later: bool = False) -> str:
    when = "in a later step" if later else "in this step"
    return (
        f"{url} is downloaded and run or unpacked {when} without a checksum check; verify it "
        'in the step that downloads it (`echo "<sha256>  file" | sha256sum -c -`)'
    )


def _pipe_command(command: Command) -> Command:
    return Command(command.pipe_to, command.offset, (), True)


def _pipe_message(what: str) -> str:
    return (
        f"`{what}` runs a script straight from the network: it can change between builds "
        "and nothing checks it; download it, check its sha256, then run it"
    )


def git_hits(commands: tuple[Command, ...]) -> Iterator[tuple[Command, str, str]]:
    """`git clone` without checking out a commit (or a version tag) in the same step."""
    pinned = False
    for command in commands:
        words = command.words
        if command.name != "git" or len(words) < 2:
            continue
        sub_index = _git_subcommand(words)
        sub = words[sub_index] if sub_index < len(words) else ""
        rest = words[sub_index + 1 :]
        if sub in ("checkout", "reset", "switch", "fetch") and any(_fixed_ref(w) for w in rest):
            pinned = True
    for command in commands:
        words = command.words
        if command.name != "git" or pinned:
            continue
        sub_index = _git_subcommand(words)
        if sub_index >= len(words) or words[sub_index] != "clone":
            continue
        rest = words[sub_index + 1 :]
        ref = _clone_ref(rest)
        if ref is not None and _fixed_ref(ref):
            continue
        url = next((w for w in rest if "://" in w or w.startswith("git@")), "the repository")
        moving = f"branch {ref}" if ref else "the default branch"
        yield (
            command,
            "RA024",
            (
                f"`git clone {url}` takes {moving}, which moves; check out a commit in the same "
                "step (`git checkout <sha>`)"
            ),
        )


def _git_subcommand(words: tuple[str, ...]) -> int:
    index = 1
    while index < len(words) and words[index].startswith("-"):
        index += 2 if words[index] in ("-C", "-c", "--git-dir", "--work-tree") else 1
    return index


def _clone_ref(args: tuple[str, ...]) -> str | None:
    for index, word in enumerate(args):
        if word in ("-b", "--branch") and index + 1 < len(args):
            return args[index + 1]
        if word.startswith("--branch="):
            return word.split("=", 1)[1]
    return None


def _fixed_ref(ref: str) -> bool:
    return bool(_SHA_RE.match(ref) or _VERSION_REF_RE.match(ref) or "$" in ref)
