"""Which builder runs the user's Dockerfile: BuildKit through the Docker CLI, else classic.

docker-py only speaks the classic builder (docker/docker-py#2230), so BuildKit is reached
through a `docker` client: `docker buildx build` where the buildx plugin is installed, else
a client with BuildKit built in (`DOCKER_BUILDKIT=1 docker build`, Docker 18.09–22.x, e.g.
Debian's docker.io). A newer client without buildx refuses BuildKit, and machines often
have several clients, so every `docker` on PATH (and docker.io's own) is probed, never
assumed. `--builder` picks: `classic`, `buildkit` (any BuildKit, else exit 3), or the
name of a buildx builder (docker-container, kubernetes, remote drivers).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.core.errors import InfrastructureError, InputError

#: Where Debian's docker.io package puts its own client (probed even when not on PATH).
DEBIAN_CLIENTS = ("/usr/bin/docker",)
#: More clients to probe after PATH (os.pathsep-separated; empty: none), instead of those.
CLIENTS_ENV = "REPRO_AUDIT_DOCKER_CLIENTS"
PROBE_TIMEOUT = 20


@dataclass(frozen=True)
class Builder:
    """One way to build: `buildx` (a named builder), `buildkit` (built-in) or `classic`."""

    kind: str
    client: str | None = None  # the docker executable (never written to outputs)
    name: str | None = None
    driver: str | None = None
    client_version: str | None = None
    #: the engine's address when it is not this machine's default socket (credentials
    #: stripped): a build on a remote engine says where it ran
    endpoint: str | None = None

    @property
    def buildkit(self) -> bool:
        return self.kind != "classic"

    def to_json(self) -> dict[str, Any]:
        """What the record says: kind, builder name and driver, client version, engine."""
        out = {
            "kind": self.kind,
            "name": self.name,
            "driver": self.driver,
            "client_version": self.client_version,
        }
        if self.endpoint:
            out["endpoint"] = self.endpoint
        return out

    def describe(self) -> str:
        where = f" on {self.endpoint}" if self.endpoint else ""
        if self.kind == "buildx":
            return f"buildx builder {self.name} ({self.driver} driver){where}"
        if self.kind == "buildkit":
            return f"BuildKit built into docker {self.client_version}{where}"
        return f"classic builder{where}"


@dataclass
class Probe:
    """What was found on this machine (for error messages and the chosen builder)."""

    tried: list[str] = field(default_factory=list)
    buildx: list[str] = field(default_factory=list)
    builtin: list[tuple[str, str]] = field(default_factory=list)


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            env={**os.environ, **(env or {})},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InfrastructureError(f"`{' '.join(args[1:])}` did not answer") from None
    except OSError as exc:
        return subprocess.CompletedProcess(args, 127, "", str(exc))


def docker_clients() -> list[str]:
    """Every `docker` executable on PATH, in PATH order, then docker.io's own; deduplicated."""
    seen: set[str] = set()
    out: list[str] = []
    entries = os.environ.get("PATH", "").split(os.pathsep)
    extra = os.environ.get(CLIENTS_ENV)
    more = [c for c in extra.split(os.pathsep) if c] if extra is not None else DEBIAN_CLIENTS
    for candidate in [os.path.join(d, "docker") for d in entries if d] + list(more):
        if not (os.path.isfile(candidate) and os.access(candidate, os.X_OK)):
            continue
        real = os.path.realpath(candidate)
        if real not in seen:
            seen.add(real)
            out.append(candidate)
    return out


def probe(cache_dir: Path | None = None) -> Probe:
    """Ask each client whether it has buildx, else whether it builds with BuildKit itself.

    With `cache_dir`, the answer is remembered per client file (path, size, mtime) and
    buildx plugin directory, so an unchanged machine is not asked again on every build.
    """
    clients = docker_clients()
    memo = _memo_path(cache_dir, clients)
    if memo is not None and memo.is_file():
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            data = json.loads(memo.read_text(encoding="utf-8"))
            return Probe(data["tried"], data["buildx"], [tuple(b) for b in data["builtin"]])
    found = Probe()
    for client in clients:
        found.tried.append(client)
        if _run([client, "buildx", "version"]).returncode == 0:
            found.buildx.append(client)
            continue
        if _run([client, "build", "--help"], {"DOCKER_BUILDKIT": "1"}).returncode == 0:
            found.builtin.append((client, _client_version(client)))
    if memo is not None:
        from audit.core.fs import atomic_write_text

        memo.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(memo, json.dumps(found.__dict__, sort_keys=True))
    return found


def _memo_path(cache_dir: Path | None, clients: list[str]) -> Path | None:
    """Where the probe of exactly these client files (and plugin dirs) is remembered."""
    if cache_dir is None:
        return None
    facts = []
    config = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
    plugin_dirs = [
        os.path.join(config, "cli-plugins"),
        "/usr/local/lib/docker/cli-plugins",
        "/usr/libexec/docker/cli-plugins",
        "/usr/lib/docker/cli-plugins",
    ]
    for path in [*clients, *plugin_dirs]:
        try:
            st = os.stat(path)
            facts.append([path, os.path.realpath(path), st.st_size, st.st_mtime_ns])
        except OSError:
            facts.append([path, None])
    key = hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:32]
    return Path(cache_dir) / "builders" / f"{key}.json"


def _buildx_builders(client: str) -> dict[str, str]:
    """name → driver of the buildx builders `client` knows (`docker buildx ls`).

    Builder lines start in column 0 (`NAME DRIVER …`, the current one marked `*`); node
    lines are indented. `--format` is not in every buildx, so the table is read.
    """
    done = _run([client, "buildx", "ls"])
    return parse_buildx_ls(done.stdout) if done.returncode == 0 else {}


def parse_buildx_ls(text: str) -> dict[str, str]:
    """The builders of a `docker buildx ls` table."""
    out: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        if not line.strip() or line[0].isspace() or line.startswith("\\_"):
            continue
        words = line.split()
        name = words[0].rstrip("*")
        driver = words[1] if len(words) > 1 and words[1] != "*" else ""
        if words[1:2] == ["*"] and len(words) > 2:
            driver = words[2]
        out[name] = driver
    return out


def _named(found: Probe, name: str) -> Builder:
    """A buildx builder by name, exit 2 (listing the builders there are) when unknown."""
    known: dict[str, str] = {}
    for client in found.buildx:
        builders = _buildx_builders(client)
        if name in builders:
            inspect = _run([client, "buildx", "inspect", name])
            if inspect.returncode != 0:
                raise InfrastructureError(
                    f"buildx builder {name} does not answer: {_first_line(inspect.stderr)}"
                )
            return Builder("buildx", client, name, builders[name] or _driver(inspect.stdout))
        known.update(builders)
    there = sorted(known) + ["classic"] + (["buildkit"] if found.buildx or found.builtin else [])
    raise InputError(
        f"no builder named {name!r}",
        hint=f"builders here: {', '.join(there)}"
        + ("" if found.buildx else "; named builders need the buildx plugin"),
    )


def _driver(inspect_text: str) -> str:
    for line in inspect_text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Driver":
            return value.strip()
    return ""


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:200]


def choose(
    requested: str | None, found: Probe | None = None, cache_dir: Path | None = None
) -> tuple[Builder, str | None]:
    """(builder, warning) for `--builder` (None: BuildKit when there is one, else classic)."""
    if requested == "classic":
        return Builder("classic"), None
    found = found if found is not None else probe(cache_dir)
    if requested not in (None, "", "auto", "buildkit"):
        return _named(found, str(requested)), None
    if found.buildx:
        client = found.buildx[0]
        return Builder("buildx", client, None, None, _client_version(client)), None
    if found.builtin:
        client, version = found.builtin[0]
        return Builder("buildkit", client, None, "docker", version), None
    probed = ", ".join(Path(c).as_posix() for c in found.tried) or "no docker client on PATH"
    if requested == "buildkit":
        raise InfrastructureError(
            f"no BuildKit to build with (probed: {probed})",
            hint="install the docker buildx plugin (docker-buildx-plugin), or a docker "
            "client with BuildKit built in (Debian: apt-get install docker.io)",
        )
    return Builder("classic"), (
        f"no BuildKit found (probed: {probed}): using the classic builder "
        "(RUN --mount, COPY --chmod and heredocs will not work)"
    )


def _client_version(client: str) -> str:
    """`Docker version 20.10.24+dfsg1, build 297e128` → `20.10.24+dfsg1` (no daemon call)."""
    words = _run([client, "--version"]).stdout.replace(",", " ").split()
    return words[2] if len(words) > 2 and words[:2] == ["Docker", "version"] else "unknown"


def resolve_buildx(builder: Builder) -> Builder:
    """Fill in the name and driver of the default buildx builder (for the record)."""
    if builder.kind != "buildx" or builder.name is not None or builder.client is None:
        return builder
    inspect = _run([builder.client, "buildx", "inspect"])
    if inspect.returncode != 0:
        raise InfrastructureError(f"buildx does not answer: {_first_line(inspect.stderr)}")
    name = ""
    for line in inspect.stdout.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Name" and not name:
            name = value.strip()
    return Builder(
        "buildx", builder.client, name or "default", _driver(inspect.stdout),
        builder.client_version, builder.endpoint,
    )  # fmt: skip
