"""`repro-audit verify RECORD`: does the build a record describes still reproduce?

Two depths, one verdict:

* static (default, fast): every input the record names still exists. Each locked artifact
  URL gets a HEAD (a ranged GET when HEAD is refused) concurrently; a copy in the local
  cache or the mirror is re-hashed; `--deep` downloads and hashes every artifact. Each base
  image digest is asked of its registry. The lock must still parse with today's tool and
  hash to what the record says. A 404/410 is a finding; a host that does not answer is
  infrastructure (exit 3) unless the mirror holds the thing.
* `--rebuild`: build again from the recorded inputs only — the lock as recorded (sha256
  checked), the base by its recorded digest, artifacts by sha256 from the cache, mirror
  or URL, the recorded platform, prefix and SOURCE_DATE_EPOCH, a fresh stage — and compare
  the environment layer diff_id, the inventory and the labels with the record.

Verdicts (exit 0 for the first two, 1 for the others, 3 when the check could not run):

* AVAILABLE — static only: every input is still there and verifies (a rebuild proves more);
* REPRODUCED — the environment layer is bit-identical and the inventory is the same;
  `image_identical` says the whole image id matched too (the strongest result);
* EQUIVALENT — the same packages, other bytes (what differs is listed);
* DRIFTED — the inventory differs (the classified diff, as `repro-audit diff` gives it);
* UNREPRODUCIBLE — an input is missing or does not verify (each one listed).

The mirror (`audit.mirror`) turns "gone upstream" into "still here": an artifact or base
image that its upstream lost but the mirror holds, verified, does not block a verdict.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from audit.errors import (
    EXIT_FINDINGS,
    EXIT_OK,
    FindingsError,
    InfrastructureError,
    InputError,
    ReproAuditError,
)
from audit.fetch import Artifact
from audit.redact import redact_url

#: Threads for the static checks (HEADs and registry GETs are latency-bound).
WORKERS = 32
#: Labels whose difference alone does not make a rebuild EQUIVALENT: the tool's own
#: version moves with every upgrade of repro-audit, not with the environment.
VOLATILE_LABELS = frozenset({"io.repro-audit.version"})
RECORD_NAME = "build-record.json"

Progress = Callable[[str, str], None]


class Verdict(StrEnum):
    AVAILABLE = "AVAILABLE"
    REPRODUCED = "REPRODUCED"
    EQUIVALENT = "EQUIVALENT"
    DRIFTED = "DRIFTED"
    UNREPRODUCIBLE = "UNREPRODUCIBLE"

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self in (Verdict.AVAILABLE, Verdict.REPRODUCED) else EXIT_FINDINGS


# Status of one input.
OK = "ok"
GONE = "gone"
MISMATCH = "mismatch"
UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Problem:
    """One input that is gone, does not verify, or could not be asked."""

    kind: str  # artifact | base-image | lockfile | dockerfile | record
    name: str  # package label, image reference or file
    where: str  # URL, registry reference or path (redacted)
    status: str  # gone | mismatch | unreachable
    reason: str
    expected: str | None = None
    got: str | None = None
    mirrored: bool = False  # the mirror holds a verified copy: not blocking
    cached: bool = False  # the local cache still holds a verified copy

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "where": self.where,
            "status": self.status,
            "reason": self.reason,
            "expected": self.expected,
            "got": self.got,
            "mirrored": self.mirrored,
            "cached": self.cached,
        }

    def line(self) -> str:
        text = f"{self.kind} {self.name}: {self.reason}"
        if self.expected is not None or self.got is not None:
            text += f" (expected {self.expected}, got {self.got})"
        if self.where and self.where != self.name:
            text += f" [{self.where}]"
        if self.mirrored:
            text += " — served from the mirror"
        elif self.cached and self.status == GONE:
            text += " — a verified copy is still in the local cache: save it with --write-mirror"
        return text


@dataclass
class Rebuild:
    """What a rebuild produced, next to what the record says."""

    recorded: dict[str, Any]
    rebuilt: dict[str, Any]
    drift: Any  # audit.drift.PlatformDrift
    seconds: float
    loaded_bases: list[str] = field(default_factory=list)

    @property
    def same_env_layer(self) -> bool:
        return self.recorded.get("env_layer_diff_id") == self.rebuilt.get("env_layer_diff_id")

    @property
    def same_image_id(self) -> bool:
        return bool(self.recorded.get("image_id")) and (
            self.recorded.get("image_id") == self.rebuilt.get("image_id")
        )

    @property
    def same_layers(self) -> bool:
        return list(self.recorded.get("layers") or []) == list(self.rebuilt.get("layers") or [])

    def label_changes(self) -> dict[str, dict[str, str | None]]:
        old = dict(self.recorded.get("labels") or {})
        new = dict(self.rebuilt.get("labels") or {})
        return {
            key: {"recorded": old.get(key), "rebuilt": new.get(key)}
            for key in sorted(set(old) | set(new))
            if old.get(key) != new.get(key)
        }

    def to_json(self) -> dict[str, Any]:
        keys = ("image_id", "env_layer_diff_id", "env_tar_sha256", "layers")
        return {
            "recorded": {k: self.recorded.get(k) for k in keys},
            "rebuilt": {k: self.rebuilt.get(k) for k in keys},
            "same_env_layer": self.same_env_layer,
            "same_image_id": self.same_image_id,
            "same_layers": self.same_layers,
            "labels": self.label_changes(),
            "inventory_changes": [c.to_json() for c in self.drift.changes],
            "inventory_counts": {k: v for k, v in self.drift.counts().items() if v},
            "seconds": round(self.seconds, 3),
            "loaded_bases": self.loaded_bases,
        }


@dataclass
class VerifyResult:
    record: str
    verdict: Verdict
    reasons: list[str]
    problems: list[Problem]
    checked: dict[str, int]
    timings: dict[str, float]
    rebuild: Rebuild | None = None
    mirror: str | None = None
    deep: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def image_identical(self) -> bool:
        return self.rebuild is not None and self.rebuild.same_image_id

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    @property
    def blocking(self) -> list[Problem]:
        return [p for p in self.problems if not p.mirrored and p.status != UNREACHABLE]

    def to_json(self) -> dict[str, Any]:
        problems = sorted(self.problems, key=lambda p: (p.kind, p.name, p.where))
        return {
            "record": self.record,
            "verdict": self.verdict.value,
            "image_identical": self.image_identical,
            "exit_code": self.exit_code,
            "mode": "rebuild" if self.rebuild is not None else "static",
            "deep": self.deep,
            "mirror": self.mirror,
            "reasons": self.reasons,
            "missing": [p.to_json() for p in problems if p.status == GONE and not p.mirrored],
            "mismatches": [p.to_json() for p in problems if p.status == MISMATCH],
            "mirrored": [p.to_json() for p in problems if p.mirrored],
            "unreachable": [p.to_json() for p in problems if p.status == UNREACHABLE],
            "checked": dict(sorted(self.checked.items())),
            "rebuild": self.rebuild.to_json() if self.rebuild is not None else None,
            "timings": {k: round(v, 3) for k, v in sorted(self.timings.items())},
            "notes": self.notes,
        }


@dataclass
class VerifyOptions:
    record: str
    rebuild: bool = False
    mirror: Path | None = None
    write_mirror: bool = False
    deep: bool = False
    cache_dir: Path | None = None
    insecure: frozenset[str] = frozenset()
    timeout: float = 15.0
    keep_image: bool = False
    progress: Progress | None = None


# --------------------------------------------------------------------------- verdict


def decide(problems: list[Problem], rebuild: Rebuild | None) -> tuple[Verdict, list[str]]:
    """The verdict and why, from the findings and (optionally) a rebuild; pure."""
    blocking = [p for p in problems if not p.mirrored and p.status in (GONE, MISMATCH)]
    if blocking:
        return Verdict.UNREPRODUCIBLE, [p.line() for p in blocking]
    if rebuild is None:
        mirrored = [p for p in problems if p.mirrored]
        why = ["every input the record names is still available and verifies"]
        if mirrored:
            why.append(f"{len(mirrored)} of them only from the mirror")
        why.append("run with --rebuild to prove the environment reproduces")
        return Verdict.AVAILABLE, why
    changes = list(rebuild.drift.changes)
    if changes:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(rebuild.drift.counts().items()) if v)
        lines = [f"the rebuilt image's packages differ from the record: {counts}"]
        lines += [_change_line(c) for c in changes]
        return Verdict.DRIFTED, lines
    labels = {k: v for k, v in rebuild.label_changes().items() if k not in VOLATILE_LABELS}
    differs: list[str] = []
    if not rebuild.same_env_layer:
        differs.append(
            "environment layer differs: recorded "
            f"{rebuild.recorded.get('env_layer_diff_id')}, rebuilt "
            f"{rebuild.rebuilt.get('env_layer_diff_id')}"
        )
    for key, pair in labels.items():
        differs.append(f"label {key}: recorded {pair['recorded']!r}, rebuilt {pair['rebuilt']!r}")
    if differs:
        return Verdict.EQUIVALENT, ["the same packages, other bytes:", *differs]
    why = [
        f"environment layer bit-identical ({rebuild.rebuilt.get('env_layer_diff_id')})",
        "same inventory",
    ]
    if rebuild.same_image_id:
        why.append(f"bit-identical image: same image id {rebuild.rebuilt.get('image_id')}")
    else:
        recorded_id, rebuilt_id = rebuild.recorded.get("image_id"), rebuild.rebuilt.get("image_id")
        ids = f"recorded {recorded_id}, rebuilt {rebuilt_id}"
        old_layers = list(rebuild.recorded.get("layers") or [])
        new_layers = list(rebuild.rebuilt.get("layers") or [])
        differing = sum(a != b for a, b in zip(old_layers, new_layers, strict=False))
        differing += abs(len(old_layers) - len(new_layers))
        if differing:
            why.append(
                f"image id differs ({ids}): {differing} layer(s) of the Dockerfile's own steps "
                "differ (RUN output, or the mtime a COPY stamps on a directory)"
            )
        else:
            why.append(
                f"image id differs ({ids}): same layers, other config (an image built "
                "with --no-reproducible-image, or another Docker engine version)"
            )
    for key, pair in rebuild.label_changes().items():
        why.append(f"label {key}: recorded {pair['recorded']!r}, rebuilt {pair['rebuilt']!r}")
    return Verdict.REPRODUCED, why


def _change_line(change: Any) -> str:
    old, new = change.old_version or "-", change.new_version or "-"
    return f"  {change.kind:<16} {change.manager}:{change.name} {old} -> {new}"


# --------------------------------------------------------------------------- inputs


@dataclass
class Inputs:
    """A record and the files it names, located on disk (or extracted from git)."""

    record_path: Path
    record: dict[str, Any]
    lockfile: Path | None
    dockerfile: Path | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def inputs(self) -> dict[str, Any]:
        return dict(self.record.get("inputs") or {})

    @property
    def platform(self) -> str:
        return str(self.inputs.get("platform") or "linux/amd64")

    @property
    def conda_platform(self) -> str:
        return str(self.inputs.get("conda_platform") or "linux-64")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _candidates(recorded: str, record_dir: Path) -> list[Path]:
    path = Path(recorded)
    if path.is_absolute():
        return [path, record_dir / path.name]
    return [record_dir / path, Path.cwd() / path, record_dir / path.name]


def locate(
    kind: str, entry: dict[str, Any], record_dir: Path
) -> tuple[Path | None, Problem | None]:
    """The file a record entry names ({path, sha256}), checked against its sha256."""
    recorded = entry.get("path")
    expected = entry.get("sha256")
    if not recorded:
        return None, Problem(kind, kind, "", GONE, "the record names no file")
    existing = [p for p in _candidates(str(recorded), record_dir) if p.is_file()]
    for path in existing:
        if not expected or sha256_of(path) == expected:
            return path, None
    if existing:
        got = sha256_of(existing[0])
        return existing[0], Problem(
            kind,
            str(recorded),
            str(existing[0]),
            MISMATCH,
            f"{recorded} changed since the build (verify git:REV to use the committed one)",
            expected=expected,
            got=got,
        )
    return None, Problem(kind, str(recorded), str(recorded), GONE, f"{recorded} not found")


def load_inputs(record_path: Path) -> Inputs:
    from audit.record import read_record

    record = read_record(record_path)
    inputs = record.get("inputs") or {}
    base = record_path.resolve().parent
    problems: list[Problem] = []
    lockfile, problem = locate("lockfile", dict(inputs.get("lockfile") or {}), base)
    if problem:
        problems.append(problem)
    dockerfile = None
    docker_entry = dict(inputs.get("dockerfile") or {})
    if not docker_entry.get("generated") and docker_entry.get("path"):
        dockerfile, problem = locate("dockerfile", docker_entry, base)
        if problem:
            problems.append(problem)
    return Inputs(record_path, record, lockfile, dockerfile, problems)


@contextlib.contextmanager
def materialize_record(spec: str) -> Iterator[Path]:
    """A record path for `spec`: a file, or `git:REV[:path]` extracted with `git archive`.

    At a revision the whole tree is extracted (the lock, the pinned Dockerfile and the
    build context as committed), so the record's relative paths resolve as they did.
    """
    if not spec.startswith("git:"):
        path = Path(spec)
        if path.is_dir():
            path = path / RECORD_NAME
        if not path.is_file():
            raise InputError("no such build record", where=str(path))
        yield path
        return
    import subprocess

    rev, _, inner = spec[len("git:") :].partition(":")
    if not rev:
        raise InputError(f"expected git:REV or git:REV:path, got {spec!r}")
    inner = inner or RECORD_NAME
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
    )
    if top.returncode != 0:
        raise InputError("not inside a git repository", where=spec)
    root = Path(top.stdout.strip())
    prefix = subprocess.run(
        ["git", "rev-parse", "--show-prefix"], capture_output=True, text=True, check=False
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="repro-audit-verify-git-") as tmp:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", "--end-of-options", f"{rev}^{{commit}}"],
            cwd=root,
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            detail = archive.stderr.decode(errors="replace").strip().splitlines()
            raise InputError(
                f"cannot read revision {rev!r}: {detail[-1] if detail else 'git archive failed'}",
                where=spec,
            )
        import io

        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        for candidate in (Path(tmp) / prefix / inner, Path(tmp) / inner):
            if candidate.is_file():
                yield candidate
                return
        raise InputError(f"{inner} does not exist at revision {rev}", where=spec)


# --------------------------------------------------------------------------- artifacts


def lock_artifacts(inputs: Inputs) -> tuple[list[Artifact], list[dict[str, Any]], list[Problem]]:
    """(artifacts, repodata records, problems): the lock read by today's readers.

    When the lock is unavailable the record's own package list stands in, so the
    artifact checks still run.
    """
    from audit.materialize import _artifact, _wheel_artifact, read_pip_wheels

    problems: list[Problem] = []
    platform = inputs.conda_platform
    if inputs.lockfile is not None:
        from audit.inventory import read_inventory
        from audit.lockfile import read_lock_records

        try:
            records = read_lock_records(inputs.lockfile, platform)
            wheels = read_pip_wheels(inputs.lockfile, platform)
            read_inventory(str(inputs.lockfile), platform)
            artifacts = [_artifact(r) for r in records]
            artifacts += [_wheel_artifact(w, platform) for w in wheels]
            repodata = [json.loads(record.to_json()) for record in records]
            if artifacts or not _record_packages(inputs):
                return artifacts, repodata, problems
            problems.append(
                Problem(
                    "lockfile",
                    str(inputs.lockfile),
                    str(inputs.lockfile),
                    MISMATCH,
                    f"today's reader finds no {platform} packages in the lock",
                )
            )
        except ReproAuditError as exc:
            problems.append(
                Problem(
                    "lockfile",
                    str(inputs.lockfile),
                    str(inputs.lockfile),
                    MISMATCH,
                    f"does not parse with repro-audit today: {exc.one_line()}",
                )
            )
    return _record_packages(inputs), [], problems


def _record_packages(inputs: Inputs) -> list[Artifact]:
    packages = dict(inputs.inputs.get("packages") or {})
    out = []
    for manager in ("conda", "pip"):
        for item in packages.get(manager) or []:
            url = str(item.get("url") or "")
            file_name = url.rsplit("/", 1)[-1]
            subdir = url.rsplit("/", 2)[-2] if manager == "conda" and url.count("/") >= 2 else ""
            out.append(
                Artifact(
                    name=str(item.get("name")),
                    version=str(item.get("version")),
                    platform=subdir or inputs.conda_platform,
                    url=url,
                    sha256=str(item.get("sha256") or ""),
                    file_name=file_name,
                )
            )
    return out


@dataclass
class _Probe:
    status: str
    detail: str = ""
    size: int | None = None


def probe_url(url: str, timeout: float) -> _Probe:
    """HEAD the URL (ranged GET when HEAD is refused): ok with its size, gone, unreachable."""
    url = os.path.expandvars(url)
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
        try:
            return _Probe(OK, size=path.stat().st_size)
        except FileNotFoundError:
            return _Probe(GONE, "file not found")
        except OSError as exc:
            return _Probe(UNREACHABLE, exc.strerror or str(exc))
    if parsed.scheme not in ("http", "https"):
        return _Probe(UNREACHABLE, f"unsupported URL scheme {parsed.scheme!r}")
    for method, headers in (("HEAD", {}), ("GET", {"Range": "bytes=0-0"})):
        request = urllib.request.Request(url, method=method, headers=headers)
        request.add_header("User-Agent", "repro-audit (verify)")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                size = None
                if method == "HEAD" and answer.headers.get("Content-Length", "").isdigit():
                    size = int(answer.headers["Content-Length"])
                elif "/" in (answer.headers.get("Content-Range") or ""):
                    total = answer.headers["Content-Range"].rsplit("/", 1)[1]
                    size = int(total) if total.isdigit() else None
                return _Probe(OK, size=size)
        except urllib.error.HTTPError as error:
            error.close()
            if error.code in (405, 501) and method == "HEAD":
                continue
            if error.code in (404, 410):
                return _Probe(GONE, f"HTTP {error.code}")
            if error.code in (401, 403):
                return _Probe(GONE, f"HTTP {error.code} (access denied)")
            return _Probe(UNREACHABLE, f"HTTP {error.code}")
        except (OSError, ValueError) as exc:
            return _Probe(UNREACHABLE, str(getattr(exc, "reason", exc)))
    return _Probe(UNREACHABLE, "no answer")


def _verified_size(path: Path, sha256: str) -> tuple[bool, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest() == sha256.lower(), size


def check_artifact(
    artifact: Artifact,
    cache_dir: Path,
    mirror: Any,
    *,
    deep: bool,
    timeout: float,
) -> Problem | None:
    """None when the artifact is available upstream (or mirrored) and verifies."""
    from audit.fetch import cache_path

    where = redact_url(artifact.url)
    label = f"{artifact.label} {artifact.file_name}"
    expected = artifact.sha256.lower()
    known_size: int | None = artifact.size
    cached = False
    path = cache_path(cache_dir, artifact)
    if path.is_file():
        good, size = _verified_size(path, expected)
        if good:
            cached, known_size = True, size
        else:  # a damaged cache entry is dropped, as fetch does; it proves nothing upstream
            path.unlink(missing_ok=True)
    mirrored = False
    mirror_problem: Problem | None = None
    if mirror is not None and mirror.has_artifact(artifact):
        good, size = _verified_size(mirror.artifact_path(artifact), expected)
        if good:
            mirrored, known_size = True, known_size or size
        else:
            mirror_problem = Problem(
                "artifact",
                label,
                str(mirror.artifact_path(artifact)),
                MISMATCH,
                "sha256 mismatch of the mirrored copy",
                expected=expected,
                got=mirror.artifact_digest(artifact),
            )
    if deep:
        upstream = _download_and_hash(artifact, cache_dir, timeout)
        if upstream.status == OK and upstream.detail != expected:
            return Problem(
                "artifact",
                label,
                where,
                MISMATCH,
                "sha256 mismatch of the artifact its URL serves today",
                expected=expected,
                got=upstream.detail,
                mirrored=mirrored,
                cached=cached,
            )
        probe = upstream
    else:
        probe = probe_url(artifact.url, timeout)
        sizes = (known_size, probe.size)
        if probe.status == OK and None not in sizes and probe.size != known_size:
            return Problem(
                "artifact",
                label,
                where,
                MISMATCH,
                "size mismatch: its URL serves other bytes than the locked artifact",
                expected=f"{known_size} bytes",
                got=f"{probe.size} bytes",
                mirrored=mirrored,
                cached=cached,
            )
    if probe.status == OK:
        return mirror_problem
    if mirror_problem is not None:
        return mirror_problem
    return Problem(
        "artifact",
        label,
        where,
        probe.status,
        f"{'gone from its channel' if probe.status == GONE else 'unreachable'} ({probe.detail})",
        mirrored=mirrored,
        cached=cached,
    )


def _download_and_hash(artifact: Artifact, cache_dir: Path, timeout: float) -> _Probe:
    """Download the artifact; OK with its sha256 in `detail` (kept in the cache if it matches)."""
    from audit.fetch import _download, cache_path

    target = cache_path(cache_dir, artifact)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".verify-", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _download(artifact, tmp, timeout)
        good, size = _verified_size(tmp, artifact.sha256)
        digest = sha256_of(tmp) if not good else artifact.sha256.lower()
        if good:
            os.replace(tmp, target)
        return _Probe(OK, digest, size)
    except InfrastructureError as exc:
        return _Probe(UNREACHABLE, exc.message)
    except InputError as exc:
        return _Probe(GONE, exc.message)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


# --------------------------------------------------------------------------- base images


def pinned_bases(inputs: Inputs) -> tuple[list[Any], list[Problem]]:
    """The base images as ImageRefs with digests; unpinned ones are problems."""
    from audit.images.reference import ReferenceError, parse_reference

    refs: dict[str, Any] = {}
    problems = []
    for image in inputs.inputs.get("base_images") or []:
        text = str(image.get("ref") or "")
        digest = image.get("digest")
        if not digest:
            problems.append(
                Problem(
                    "base-image",
                    text,
                    str(image.get("where") or ""),
                    GONE,
                    "built unpinned (--allow-unpinned): no digest to rebuild from",
                )
            )
            continue
        try:
            ref = parse_reference(text).with_digest(digest)
        except ReferenceError as exc:
            problems.append(Problem("base-image", text, "", GONE, f"unparsable reference: {exc}"))
            continue
        refs.setdefault(ref.canonical(), ref)
    return list(refs.values()), problems


def check_base(client: Any, ref: Any, mirror: Any, platform: str) -> Problem | None:
    from audit.images.registry import DeniedError, NotFoundError

    mirrored = mirror is not None and mirror.image_missing(ref.digest, platform) is None
    try:
        client.get_manifest(ref.api_host, ref.repository, ref.digest)
        return None
    except (NotFoundError, DeniedError) as exc:
        status, reason = GONE, f"digest gone from its registry ({exc.message})"
    except InfrastructureError as exc:
        status, reason = UNREACHABLE, f"registry unreachable ({exc.message})"
    except ReproAuditError as exc:
        status, reason = GONE, f"registry refused the digest ({exc.message})"
    return Problem(
        "base-image",
        ref.canonical(),
        ref.name,
        status,
        reason,
        expected=ref.digest,
        mirrored=mirrored,
    )


# --------------------------------------------------------------------------- static


def static_checks(
    inputs: Inputs,
    artifacts: list[Artifact],
    refs: list[Any],
    options: VerifyOptions,
    cache_dir: Path,
    mirror: Any,
) -> list[Problem]:
    """Every artifact and base digest, concurrently; the problems found."""
    from audit.images.registry import RegistryClient

    client = RegistryClient(insecure=options.insecure, timeout=options.timeout, retries=1)
    jobs: list[Callable[[], Problem | None]] = []
    for artifact in artifacts:
        jobs.append(
            lambda a=artifact: check_artifact(
                a, cache_dir, mirror, deep=options.deep, timeout=options.timeout
            )
        )
    for ref in refs:
        jobs.append(lambda r=ref: check_base(client, r, mirror, inputs.platform))
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(jobs))) as pool:
        found = list(pool.map(lambda job: job(), jobs))
    return [p for p in found if p is not None]


# --------------------------------------------------------------------------- mirror


def write_mirror(
    inputs: Inputs,
    artifacts: list[Artifact],
    repodata: list[dict[str, Any]],
    refs: list[Any],
    options: VerifyOptions,
    cache_dir: Path,
    say: Progress,
) -> list[str]:
    """Fill the mirror (verified fetch for artifacts, registry API for images); notes."""
    from audit.fetch import fetch_one
    from audit.images.registry import RegistryClient
    from audit.mirror import Mirror

    assert options.mirror is not None
    mirror = Mirror.open(options.mirror, create=True)
    notes: list[str] = []

    def one(artifact: Artifact) -> str | None:
        if mirror.has_artifact(artifact):
            good, _ = _verified_size(mirror.artifact_path(artifact), artifact.sha256)
            if good:
                mirror.artifacts[artifact.sha256.lower()] = mirror.artifact_rel(artifact)
                return None
        try:
            path, _ = fetch_one(artifact, cache_dir, timeout=options.timeout)
        except ReproAuditError as exc:
            return f"not mirrored: {artifact.label}: {exc.one_line()}"
        mirror.add_artifact(artifact, path)
        return None

    say("mirroring", f"{len(artifacts)} artifacts into {options.mirror}")
    with ThreadPoolExecutor(max_workers=8) as pool:
        notes += [n for n in pool.map(one, artifacts) if n]
    sizes = {}
    for artifact in artifacts:
        path = mirror.artifact_path(artifact)
        if path.is_file():
            sizes[artifact.file_name] = path.stat().st_size
    for record in repodata:
        if record.get("fn") in sizes:
            record["size"] = sizes[record["fn"]]
    mirror.write_repodata([r for r in repodata if r.get("fn") in sizes])
    client = RegistryClient(insecure=options.insecure, timeout=options.timeout)
    for ref in refs:
        say("mirroring", ref.canonical())
        try:
            mirror.add_image(client, ref, inputs.platform)
        except ReproAuditError as exc:
            notes.append(f"not mirrored: {ref.canonical()}: {exc.one_line()}")
    mirror.save()
    return notes


# --------------------------------------------------------------------------- rebuild


def _seed_cache(artifacts: list[Artifact], sources: list[Path], target: Path) -> None:
    """Link every artifact some source cache holds into a fresh cache (verified on use)."""
    from audit.fetch import cache_path
    from audit.mirror import _link_or_copy

    for artifact in artifacts:
        destination = cache_path(target, artifact)
        if destination.is_file():
            continue
        for source in sources:
            candidate = cache_path(source, artifact)
            if candidate.is_file():
                _link_or_copy(candidate, destination)
                break


def _load_base(client: Any, mirror: Any, ref: Any, platform: str, say: Progress) -> str:
    """Load `ref` from the mirror into dockerd; its image id (= the config digest)."""
    import docker.errors

    say("loading", f"{ref.canonical()} from the mirror")
    with tempfile.TemporaryFile() as archive:
        config_digest = mirror.docker_archive(ref.digest, platform, archive)
        archive.seek(0)
        try:
            for _ in client.api.load_image(archive):
                pass
        except docker.errors.APIError as exc:
            raise InputError(f"docker load of mirrored {ref}: {exc.explanation or exc}") from None
    try:
        image_id = client.api.inspect_image(config_digest)["Id"]
    except docker.errors.ImageNotFound:
        raise InputError(f"docker load of mirrored {ref} did not give {config_digest}") from None
    if image_id != config_digest:
        raise InputError(f"mirrored {ref} loaded as {image_id}, expected {config_digest}")
    return image_id


def _local_has(client: Any, ref: Any) -> bool:
    import docker.errors

    try:
        client.api.inspect_image(f"{ref.name}@{ref.digest}")
        return True
    except docker.errors.APIError:
        return False


def rebuild(
    inputs: Inputs,
    artifacts: list[Artifact],
    refs: list[Any],
    problems: list[Problem],
    options: VerifyOptions,
    cache_dir: Path,
    mirror: Any,
    say: Progress,
) -> Rebuild:
    """Build again from the recorded inputs only and set the result beside the record."""
    from audit.build import BuildOptions, connect_docker, run_build
    from audit.drift import diff_inventories
    from audit.inventory import Inventory

    if inputs.lockfile is None:
        raise InputError("the lockfile the record names is not available")
    client = connect_docker()
    loaded: list[str] = []
    local_bases: dict[str, str] = {}
    try:
        gone = {p.name for p in problems if p.kind == "base-image"}
        for ref in refs:
            if ref.canonical() in gone and not _local_has(client, ref):
                if mirror is None or mirror.image_missing(ref.digest, inputs.platform):
                    raise InputError(f"{ref.canonical()} is neither in its registry nor mirrored")
                image_id = _load_base(client, mirror, ref, inputs.platform, say)
                local_bases[ref.canonical()] = image_id
                loaded.append(image_id)
    finally:
        client.close()

    recorded_inputs = inputs.inputs
    docker_entry = dict(recorded_inputs.get("dockerfile") or {})
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="repro-audit-rebuild-") as tmp:
        fresh = Path(tmp) / "cache"
        sources = [cache_dir]
        if mirror is not None:
            mirror.seed_cache(artifacts, fresh)
        _seed_cache(artifacts, sources, fresh)
        build_options = BuildOptions(
            lockfile=inputs.lockfile,
            dockerfile=None if docker_entry.get("generated") else inputs.dockerfile,
            base=docker_entry.get("base") if docker_entry.get("generated") else None,
            tag=None,
            platform=inputs.platform,
            prefix=recorded_inputs.get("prefix"),
            record=Path(tmp) / RECORD_NAME,
            allow_unpinned=bool(recorded_inputs.get("allow_unpinned")),
            cache_dir=fresh,
            progress=say,
            local_bases=local_bases,
            context_exclude=[inputs.record_path],
            no_cache=True,
        )
        epoch = recorded_inputs.get("source_date_epoch")
        saved = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = str(int(epoch or 0))
        try:
            result = run_build(build_options)
        finally:
            if saved is None:
                os.environ.pop("SOURCE_DATE_EPOCH", None)
            else:
                os.environ["SOURCE_DATE_EPOCH"] = saved
            builders = builder_images(fresh)
    seconds = time.perf_counter() - started
    rebuilt_record = result.record
    recorded_outputs = dict(inputs.record.get("outputs") or {})
    rebuilt_outputs = dict(rebuilt_record.get("outputs") or {})
    old = Inventory.from_json(inputs.record.get("inventory") or {})
    new = Inventory.from_json(rebuilt_record.get("inventory") or {})
    drift = diff_inventories(old, new, platform=inputs.conda_platform)
    outcome = Rebuild(recorded_outputs, rebuilt_outputs, drift, seconds, loaded)
    if not options.keep_image:
        _cleanup([result.image_id, *builders, *loaded], recorded_outputs.get("image_id"))
    return outcome


def builder_images(cache_dir: Path) -> list[str]:
    """The classic builder's own images behind each reproducible image a build made.

    `audit.imageid` remembers them under `<cache>/images/<hex>-<epoch>-<n>`; a rebuild
    removes them (and, through pruning, the user stage beneath) when it is done.
    """
    memo = Path(cache_dir) / "images"
    if not memo.is_dir():
        return []
    return sorted(f"sha256:{path.name.split('-', 1)[0]}" for path in memo.iterdir())


def _cleanup(images: list[str], recorded_id: str | None) -> None:
    """Remove what the rebuild added to dockerd, never the recorded image or a tagged one."""
    import docker.errors

    from audit.build import connect_docker

    client = connect_docker()
    try:
        for image in images:
            if image == recorded_id:
                continue
            try:
                if not client.api.inspect_image(image).get("RepoTags"):
                    client.api.remove_image(image, noprune=False)
            except docker.errors.APIError:
                pass
    finally:
        client.close()


# --------------------------------------------------------------------------- main flow


def _say_nothing(_phase: str, _message: str) -> None:
    """Default progress sink."""


def run_verify(options: VerifyOptions) -> VerifyResult:
    """The whole `verify` command; raises a ReproAuditError for input/infra failures."""
    from audit.solve import default_cache_dir

    say = options.progress or _say_nothing
    if options.write_mirror and options.mirror is None:
        raise InputError("--write-mirror needs --mirror DIR")
    cache_dir = Path(options.cache_dir or default_cache_dir())
    with materialize_record(options.record) as record_path:
        inputs = load_inputs(record_path)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        artifacts, repodata, problems = lock_artifacts(inputs)
        refs, base_problems = pinned_bases(inputs)
        problems = inputs.problems + problems + base_problems
        notes: list[str] = []
        if options.write_mirror:
            notes += write_mirror(inputs, artifacts, repodata, refs, options, cache_dir, say)
            timings["mirror_seconds"] = time.perf_counter() - started
        mirror = None
        if options.mirror is not None:
            from audit.mirror import Mirror

            mirror = Mirror.open(options.mirror)
        say("checking", f"{len(artifacts)} artifacts and {len(refs)} base images")
        problems += static_checks(inputs, artifacts, refs, options, cache_dir, mirror)
        timings["static_seconds"] = time.perf_counter() - started
        checked = {"artifacts": len(artifacts), "base_images": len(refs)}
        verdict, reasons = decide(problems, None)
        unknown = [p for p in problems if p.status == UNREACHABLE and not p.mirrored]
        if verdict is not Verdict.UNREPRODUCIBLE and unknown:
            listed = "; ".join(p.line() for p in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise InfrastructureError(
                f"could not check {len(unknown)} input(s): {listed}{more}",
                hint="the channel or registry did not answer; retry, or verify with --mirror",
            )
        outcome: Rebuild | None = None
        if options.rebuild and verdict is not Verdict.UNREPRODUCIBLE:
            try:
                outcome = rebuild(
                    inputs, artifacts, refs, problems, options, cache_dir, mirror, say
                )
            except FindingsError as exc:  # an artifact that no longer verifies
                problems.append(_rebuild_problem(exc))
                notes.append("the rebuild stopped before installing anything")
            if outcome is not None:
                timings["rebuild_seconds"] = outcome.seconds
            verdict, reasons = decide(problems, outcome)
        elif options.rebuild:
            notes.append("no rebuild: inputs are missing (see above)")
        return VerifyResult(
            record=options.record,
            verdict=verdict,
            reasons=reasons,
            problems=problems,
            checked=checked,
            timings=timings,
            rebuild=outcome,
            mirror=str(options.mirror) if options.mirror else None,
            deep=options.deep,
            notes=notes,
        )


def _rebuild_problem(exc: FindingsError) -> Problem:
    """A fetch's FindingsError (size or sha256 mismatch) as a Problem naming the artifact."""
    import re

    match = re.match(r"(\w+) mismatch for (.+): expected (.+), got (.+)$", exc.message)
    if match is None:
        return Problem("artifact", exc.where or "", exc.where or "", MISMATCH, exc.message)
    what, label, expected, got = match.groups()
    return Problem(
        "artifact",
        label,
        exc.where or "",
        MISMATCH,
        f"{what} mismatch of the artifact its URL serves today",
        expected=expected,
        got=got,
    )


def render_text(result: VerifyResult) -> list[str]:
    """The human report: the verdict first, then why, then what was checked."""
    head = result.verdict.value
    if result.verdict is Verdict.REPRODUCED and result.image_identical:
        head += " (bit-identical image)"
    lines = [f"verdict  {head}"]
    lines += [f"  {reason}" for reason in result.reasons]
    mirrored = [p for p in result.problems if p.mirrored]
    if mirrored:
        lines.append("gone upstream, verified in the mirror:")
        lines += [f"  {p.line()}" for p in mirrored]
    if result.rebuild is not None:
        r = result.rebuild
        lines.append(f"rebuilt  {r.rebuilt.get('image_id')} in {r.seconds:.1f}s")
        lines.append(f"env      {r.rebuilt.get('env_layer_diff_id')}")
    checked = result.checked
    lines.append(
        f"checked  {checked.get('artifacts', 0)} artifacts, "
        f"{checked.get('base_images', 0)} base images"
        + (" (downloaded and hashed)" if result.deep else "")
        + f" in {result.timings.get('static_seconds', 0):.2f}s"
    )
    lines += [f"note     {note}" for note in result.notes]
    return lines
