"""conda-lock.yml and explicit `conda-<platform>.lock` files: write, read, hash inputs.

conda-lock.yml is written through conda-lock's own models and writer, so conda-lock,
micromamba and rattler read it. Explicit files are written here because conda-lock's
renderer writes `url#md5`; ours carry `url#sha256:<hex>`, which conda, micromamba and
rattler all accept.

Reading the metadata for `lock --check` avoids conda-lock and pydantic entirely: it only
needs the `metadata:` block, which sits before the (long) package list.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from audit.core.credentials import env_vars
from audit.core.errors import InputError
from audit.core.fs import atomic_write_text
from audit.core.redact import redact_url
from audit.core.safeload import DocumentError, load_yaml, safe_loader
from audit.core.text import decode_text

if TYPE_CHECKING:
    from rattler import RepoDataRecord

    from audit.lockfile.models import PipLocked

#: Bumped when what repro-audit writes for the same inputs changes; part of the input digest.
LOCK_FORMAT = "1"
#: Key of our input digest in conda-lock's `custom_metadata`.
DIGEST_KEY = "repro-audit-input-digest"
#: environment.yml's `variables:` (JSON object), what `conda activate` would export.
VARIABLES_KEY = "repro-audit-variables"
#: pip sources no index can lock (`-e .`), as JSON ["file:line: text", ...].
PIP_LOCAL_KEY = "repro-audit-pip-local-sources"
#: Key of the resolution-options digest (pip indexes, channels, virtual packages).
OPTIONS_KEY = "repro-audit-options-digest"


def explicit_path(lockfile: Path, platform: str) -> Path:
    """conda-lock's naming: `conda-<platform>.lock` beside conda-lock.yml."""
    return lockfile.parent / f"conda-{platform}.lock"


# --------------------------------------------------------------------------- input digest


def input_digest(
    files: Sequence[Path],
    *,
    platforms: Sequence[str],
    channels: Sequence[str],
    extra_files: Iterable[Path | None] = (),
    options: Mapping[str, str | None] | None = None,
) -> str:
    """sha256 over the raw inputs of a lock: file bytes, options, our format version.

    Cheap (no YAML, no conda-lock), so an unchanged lock is recognised in milliseconds.
    When it differs, the caller falls back to conda-lock's semantic content hash.
    """
    h = hashlib.sha256()
    h.update(f"repro-audit-lock-format:{LOCK_FORMAT}\n".encode())
    for path in [*files, *(p for p in extra_files if p is not None)]:
        try:
            data = path.read_bytes()
        except OSError:
            data = b"<missing>"
        h.update(f"file:{path.name}:{len(data)}\n".encode())
        h.update(data)
    h.update(json.dumps({"platforms": list(platforms), "channels": list(channels)}).encode())
    h.update(
        json.dumps(
            {k: redact_url(v) if v else v for k, v in sorted((options or {}).items())}
        ).encode()
    )
    return h.hexdigest()


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class LockMetadata:
    """The parts of conda-lock.yml's metadata that decide whether a lock is current."""

    path: Path
    platforms: tuple[str, ...]
    content_hash: dict[str, str]
    channels: tuple[str, ...]
    sources: tuple[str, ...]
    custom: dict[str, str] = field(default_factory=dict)

    @property
    def input_digest(self) -> str | None:
        return self.custom.get(DIGEST_KEY)

    @property
    def variables(self) -> dict[str, str]:
        """The environment's `variables:` as locked (empty when it had none)."""
        return _json_field(self.custom.get(VARIABLES_KEY), dict)

    @property
    def pip_local_sources(self) -> list[str]:
        """pip sources the lock could not lock (`-e .`), each as "file:line: text"."""
        return _json_field(self.custom.get(PIP_LOCAL_KEY), list)

    @property
    def options_digest(self) -> str | None:
        """Digest of the resolution options the lock was solved with (None: older lock)."""
        return self.custom.get(OPTIONS_KEY)


def _json_field(text: str | None, kind: type) -> Any:
    try:
        value = json.loads(text) if text else kind()
    except ValueError:
        return kind()
    return value if isinstance(value, kind) else kind()


def lock_variables(path: Path) -> dict[str, str]:
    """The `variables:` recorded in a conda-lock.yml: what `build` sets as ENV."""
    meta = read_metadata(path)
    if meta is None:
        return {}
    return {str(k): str(v) for k, v in sorted(meta.variables.items())}


def extra_metadata(variables: Mapping[str, str], pip_local: Sequence[str]) -> dict[str, str]:
    """custom_metadata entries for `variables:` and local pip sources (none when empty)."""
    out: dict[str, str] = {}
    if variables:
        out[VARIABLES_KEY] = json.dumps(dict(sorted(variables.items())), sort_keys=True)
    if pip_local:
        out[PIP_LOCAL_KEY] = json.dumps(list(pip_local))
    return out


def read_metadata(path: Path) -> LockMetadata | None:
    """The metadata block of a conda-lock.yml (v1), or None when the file does not exist.

    Only the text up to the package list is parsed, so a 1,000-package lock costs nothing.
    """
    try:
        text = decode_text(path.read_bytes(), str(path))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read lockfile: {exc.strerror}", where=str(path)) from None
    try:
        return parse_metadata(path, _metadata_block(text))
    except InputError as exc:
        found = _AT_LINE.fullmatch(exc.message)
        if found:  # the line moves into `where`: `conda-lock.yml:13: what`
            raise InputError(found.group(1), where=f"{path}:{found.group(2)}") from None
        raise InputError(exc.message, where=str(path)) from None


_AT_LINE = re.compile(r"(.*) \(line (\d+)\)")


def parse_metadata(path: Path, head: str) -> LockMetadata:
    """LockMetadata from the YAML text outside the package list (InputError when bad).

    YAML errors name their line (the package list is cut out, so callers that blank it
    instead keep the file's line numbers).
    """
    try:
        data = load_yaml(head, str(path))
    except DocumentError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise InputError(f"{exc.message}{where}") from None
    meta = data.get("metadata") if isinstance(data, dict) else None
    if not isinstance(meta, dict):
        raise InputError("not a conda-lock.yml: no 'metadata' mapping")
    for key, kind in (
        ("content_hash", dict),
        ("custom_metadata", dict),
        ("platforms", list),
        ("channels", list),
        ("sources", list),
    ):
        if meta.get(key) is not None and not isinstance(meta[key], kind):
            what = "mapping" if kind is dict else "list"
            raise InputError(f"not a conda-lock.yml: metadata.{key} is not a {what}")
    if data.get("version") not in (None, 1):
        raise InputError(f"unsupported lock version {data.get('version')!r} (expected 1)")
    return LockMetadata(
        path=path,
        platforms=tuple(str(p) for p in meta.get("platforms") or ()),
        content_hash={str(k): str(v) for k, v in (meta.get("content_hash") or {}).items()},
        channels=tuple(
            str(c.get("url") if isinstance(c, dict) else c) for c in meta.get("channels") or ()
        ),
        sources=tuple(str(x) for x in meta.get("sources") or ()),
        custom={str(k): str(v) for k, v in (meta.get("custom_metadata") or {}).items()},
    )


_TOP_LEVEL_KEY = re.compile(r"^[^\s#-]", re.MULTILINE)


def _metadata_block(text: str) -> str:
    """The YAML text without the top-level `package:` list (which comes after metadata)."""
    start = text.find("\npackage:")
    if start < 0:
        return text
    following = _TOP_LEVEL_KEY.search(text, text.find("\n", start + 1) + 1)
    return text[:start] + "\n" + (text[following.start() :] if following else "")


def without_vcs_entries(text: str) -> str:
    """The lock text without its VCS pip entries (`url: git+…`, no hash).

    conda-lock writes those entries without a sha256 (the commit is the hash); rattler
    0.28's conda-lock reader refuses any entry without one, and only conda records are
    read from it. Entries are the `- name:` blocks at column 0 of `package:`, as written.
    """
    if not re.search(r"^  url: (?:git|hg|svn|bzr)\+", text, re.MULTILINE):
        return text
    blocks = re.split(r"(?m)^(?=- name: )", text)
    kept = [
        b
        for b in blocks
        if not (
            b.startswith("- name: ")
            and re.search(r"^  manager: pip$", b, re.MULTILINE)
            and re.search(r"^  url: (?:git|hg|svn|bzr)\+", b, re.MULTILINE)
        )
    ]
    if kept and not kept[-1].endswith("\n") and blocks[-1].endswith("\n"):
        kept[-1] += "\n"
    return "".join(kept)


def read_lock_records(path: Path, platform: str) -> list[RepoDataRecord]:
    """Conda records of one platform from a conda-lock.yml, as rattler records."""
    from rattler import LockFile

    try:
        text = path.read_text(encoding="utf-8")
        conda_only = without_vcs_entries(text)
        if conda_only == text:
            lock = LockFile.from_path(path)
        else:  # rattler refuses an entry without a hash: give it the conda records only
            with tempfile.TemporaryDirectory(prefix="repro-audit-lock-") as tmp:
                copy = Path(tmp) / path.name
                copy.write_text(conda_only, encoding="utf-8")
                lock = LockFile.from_path(copy)
    except Exception as exc:
        raise InputError(
            f"cannot read lockfile: {str(exc).splitlines()[0]}", where=str(path)
        ) from None
    env = lock.default_environment()
    if env is None:
        return []
    for p in env.platforms():
        if str(p) == platform or getattr(p, "name", None) == platform:
            return list(env.conda_repodata_records_for_platform(p) or [])
    return []


# --------------------------------------------------------------------------- writing


def conda_dependencies(depends: Iterable[str]) -> dict[str, str]:
    """`['python >=3.8', 'six']` → `{'python': '>=3.8', 'six': '*'}` as conda-lock writes them."""
    out: dict[str, str] = {}
    for dep in depends:
        name, _, rest = dep.strip().partition(" ")
        out[name] = rest.strip() or "*"
    return dict(sorted(out.items()))


def lock_document(
    *,
    platforms: Sequence[str],
    channels: Sequence[str],
    sources: Sequence[str],
    content_hash: Mapping[str, str],
    conda: Mapping[str, Sequence[RepoDataRecord]],
    pip: Mapping[str, Sequence[PipLocked]],
    categories: Mapping[str, str],
    digest: str,
    extra: Mapping[str, str] | None = None,
    options_digest: str | None = None,
    custom: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The conda-lock.yml (v1) document for the solved records, URLs redacted.

    The same structure conda-lock's `LockfileV1.dict_for_output()` gives (tests check that
    conda-lock's parser and rattler read it); built directly, since conda-lock's models
    and pure-Python YAML emitter cost seconds on a large lock.
    """
    packages: list[dict[str, Any]] = []
    for platform in platforms:
        for record in conda.get(platform, ()):
            name = record.name.normalized
            if name.startswith("__"):
                continue
            hashes = {}
            if record.md5:
                hashes["md5"] = record.md5.hex()
            if record.sha256:
                hashes["sha256"] = record.sha256.hex()
            packages.append(
                _entry(
                    name,
                    str(record.version),
                    "conda",
                    platform,
                    conda_dependencies(record.depends),
                    record.url,
                    hashes,
                    categories.get(name, "main"),
                    build=str(record.build),
                )
            )
        for wheel in pip.get(platform, ()):
            packages.append(
                _entry(
                    wheel.name,
                    wheel.version,
                    "pip",
                    platform,
                    dict(sorted(wheel.dependencies.items())),
                    wheel.url,
                    {"sha256": wheel.sha256} if wheel.sha256 else {},  # VCS: the commit
                    categories.get(wheel.name, "main"),
                )
            )
    packages.sort(key=lambda p: (p["manager"], p["name"], p["platform"]))
    return {
        "version": 1,
        "metadata": {
            "content_hash": dict(sorted(content_hash.items())),
            "channels": [
                {"url": redact_url(c), "used_env_vars": env_vars(redact_url(c))} for c in channels
            ],
            "platforms": list(platforms),
            "sources": list(sources),
            "custom_metadata": dict(
                sorted(
                    {
                        **(custom or {}),
                        **(extra or {}),
                        **({OPTIONS_KEY: options_digest} if options_digest else {}),
                        DIGEST_KEY: digest,
                    }.items()
                )
            ),
        },
        "package": packages,
    }


def _entry(
    name: str,
    version: str,
    manager: str,
    platform: str,
    dependencies: dict[str, str],
    url: str,
    hashes: dict[str, str],
    category: str,
    build: str | None = None,
) -> dict[str, Any]:
    """One package in conda-lock v1's field order."""
    entry: dict[str, Any] = {
        "name": name,
        "version": version,
        "manager": manager,
        "platform": platform,
        "dependencies": dependencies,
        "url": redact_url(url),
        "hash": hashes,
    }
    if build is not None:
        entry["build"] = build
    entry["category"] = category
    entry["optional"] = category != "main"
    return entry


_HEADER = """\
# This lock file was generated by repro-audit in conda-lock's format. DO NOT EDIT!
#
# It pins every package (with checksums) for each platform. Install it with:
#     conda-lock install -n YOURENV {name}
#     micromamba create -n YOURENV -f {name}
# Re-lock after editing the environment file:
#     repro-audit lock --lockfile {name}
# Update some packages, keeping the rest where they are:
#     repro-audit lock --lockfile {name} --update PACKAGE
"""


def dump_lockfile(document: dict[str, Any], name: str) -> str:
    """YAML text of a lock document: our header, then block-style YAML.

    Emitted directly (block mappings and lists of strings, booleans and ints are all a
    lock holds): PyYAML's representer costs more than the solve on a large lock. Tests
    check that it parses back to the same document and that conda-lock and rattler read it.
    """
    out: list[str] = [_HEADER.format(name=name)]
    _emit(document, 0, out)
    return "".join(out)


def _emit(value: Any, indent: int, out: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            _emit_item(f"{pad}{_scalar(key)}:", item, indent, out)
    else:
        for item in value:
            if isinstance(item, dict) and item:
                first = True
                for key, sub in item.items():
                    prefix = f"{pad}- " if first else f"{pad}  "
                    _emit_item(f"{prefix}{_scalar(key)}:", sub, indent + 2, out)
                    first = False
            else:
                _emit_item(f"{pad}-", item, indent, out)


def _emit_item(head: str, item: Any, indent: int, out: list[str]) -> None:
    if isinstance(item, dict) and item:
        out.append(head + "\n")
        _emit(item, indent + 2, out)
    elif isinstance(item, list) and item:
        out.append(head + "\n")
        _emit(item, indent, out)  # block sequences sit at the key's indentation
    else:
        out.append(f"{head} {_scalar(item)}\n")


_PLAIN = re.compile(r"^[A-Za-z0-9_./+$][A-Za-z0-9_./+=<>!*~^@$%,:#()\[\] -]*$")


#: Letter-first words without spaces are plain YAML strings unless they are a YAML word.
_SIMPLE = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./:+@=-]*$")
#: Lower-case hex with at least one letter (a digest) is never a YAML number.
_HEX = re.compile(r"^[0-9a-f]*[a-f][0-9a-f]*$")
_YAML_WORDS = frozenset(["y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"])
#: Numbers as YAML 1.2 readers (rattler's, ruamel's) see them; PyYAML (1.1) differs on some.
_YAML12_NUMBER = re.compile(
    r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$|^0x[0-9a-fA-F]+$|^0o[0-7]+$"
    r"|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$"
)


def _plain_ok(text: str) -> bool:
    """True when `text` reads back as this same string without quotes, in YAML 1.1 and 1.2."""
    if _YAML12_NUMBER.fullmatch(text):
        return False
    if _SIMPLE.fullmatch(text):
        return text.lower() not in _YAML_WORDS and not text.endswith(":")
    if _HEX.fullmatch(text):
        return True
    return _plain_by_parsing(text)


@functools.lru_cache(maxsize=65536)
def _plain_by_parsing(text: str) -> bool:
    """The general case: ask the YAML parser itself how it reads `text` unquoted."""
    if not _PLAIN.fullmatch(text) or text.endswith((" ", ":")) or ": " in text or " #" in text:
        return False
    try:
        return yaml.load(text, Loader=safe_loader()) == text
    except yaml.YAMLError:
        return False


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    text = str(value)
    if _plain_ok(text):
        return text
    if "'" not in text and text.isprintable():
        return f"'{text}'"
    return _double_quoted(text)


def _double_quoted(text: str) -> str:
    """A YAML double-quoted scalar; unprintable characters as \\x, \\u or \\U escapes."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable() and char not in "\u2028\u2029\ufeff":
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def write_lockfile(document: dict[str, Any], path: Path) -> None:
    """Replace `path` atomically with the lock document."""
    atomic_write_text(path, dump_lockfile(document, path.name))


def document_entries(document: dict[str, Any]) -> list[LockedEntry]:
    """The LockedEntry view of a lock document (what `read_entries` gives for its file)."""
    return _entries(document.get("package") or [])


def render_explicit(
    platform: str,
    content_hash: str,
    records: Sequence[RepoDataRecord],
    pip: Sequence[PipLocked] = (),
) -> str:
    """An explicit lockfile: header, `@EXPLICIT`, `url#sha256:<hex>` in install order."""
    from audit import __version__

    lines = [
        f"# Generated by repro-audit {__version__} (conda-lock explicit format).",
        f"# platform: {platform}",
        f"# input_hash: {content_hash}",
        "@EXPLICIT",
    ]
    for record in records:
        if record.name.normalized.startswith("__"):
            continue
        digest = record.sha256.hex() if record.sha256 else None
        suffix = f"#sha256:{digest}" if digest else (f"#{record.md5.hex()}" if record.md5 else "")
        lines.append(redact_url(record.url) + suffix)
    for wheel in pip:
        # explicit files cannot install pip packages; conda-lock records them as comments too
        suffix = f"#sha256={wheel.sha256}" if wheel.sha256 else ""  # VCS: the URL names the commit
        lines.append(f"# pip {wheel.name} @ {redact_url(wheel.url)}{suffix}")
    return "\n".join(lines) + "\n"


def write_explicit(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def write_lock_set(document: dict[str, Any], path: Path, explicit: Mapping[Path, str]) -> None:
    """conda-lock.yml and its explicit files as one transaction (all new or all old)."""
    from audit.core.fs import atomic_write_set

    files = {p: text.encode("utf-8") for p, text in explicit.items()}
    files[path] = dump_lockfile(document, path.name).encode("utf-8")
    atomic_write_set(files)


def relative_sources(files: Sequence[Path], lockfile: Path) -> list[str]:
    """Source paths relative to the lockfile's directory, POSIX style (no machine paths)."""
    base = lockfile.resolve().parent
    return [Path(os.path.relpath(f.resolve(), base)).as_posix() for f in files]


@dataclass(frozen=True, order=True)
class LockedEntry:
    """One package line of a lockfile, as needed to compare two locks."""

    platform: str
    manager: str
    name: str
    version: str
    build: str
    url: str
    sha256: str


def read_entries(path: Path) -> list[LockedEntry]:
    """Every package of a conda-lock.yml (v1), by a line scan: no YAML load of the list."""
    from audit.lockfile.scan import scan_lock

    try:
        text = decode_text(path.read_bytes(), str(path))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise InputError(f"cannot read lockfile: {exc.strerror}", where=str(path)) from None
    entries = {
        LockedEntry(
            platform=e.platform,
            manager=e.manager or "conda",
            name=e.name,
            version=e.version,
            build=e.build,
            url=e.url,
            sha256=e.hashes.get("sha256", ""),
        )
        for e in scan_lock(text, depends=False).entries
    }
    return sorted(entries)


def _entries(items: list[Any]) -> list[LockedEntry]:
    entries: list[LockedEntry] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        hashes = item.get("hash") or {}
        entries.append(
            LockedEntry(
                platform=str(item.get("platform", "")),
                manager=str(item.get("manager", "conda")),
                name=str(item.get("name", "")),
                version=str(item.get("version", "")),
                build=str(item.get("build") or ""),
                url=str(item.get("url", "")),
                sha256=str(hashes.get("sha256") or ""),
            )
        )
    return sorted(set(entries))


def explicit_input_hash(path: Path) -> str | None:
    """The `# input_hash:` header of an explicit file (None when absent or unreadable)."""
    try:
        with path.open(encoding="utf-8") as handle:
            for _ in range(8):
                line = handle.readline()
                if line.startswith("# input_hash:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None
