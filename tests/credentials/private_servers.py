"""Private servers on 127.0.0.1 for the credential tests, and the secrets they demand.

A conda channel behind basic auth (named in environment.yml with `${CH_USER}:${CH_PASS}@`),
one behind an anaconda.org-style `/t/<token>/` path (its token only in the auth file), a
PEP 503 index behind basic auth and a `docker-registry` behind htpasswd (both only in
the auth file). The secrets are distinctive strings, so a grep finds any leak.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

CHANNEL_USER, CHANNEL_PASSWORD = "alice", "s3cr3tPW-chan"
TOKEN = "tk-SECRET123-tok"
INDEX_USER, INDEX_PASSWORD = "bob", "pyPI-s3cret-idx"
REGISTRY_USER, REGISTRY_PASSWORD = "carol", "regPW-s3cret-reg"


def secrets() -> list[str]:
    """Every form a leaked secret could take: plain, and inside a Basic header."""
    plain = [CHANNEL_PASSWORD, TOKEN, INDEX_PASSWORD, REGISTRY_PASSWORD]
    pairs = [
        (CHANNEL_USER, CHANNEL_PASSWORD),
        (INDEX_USER, INDEX_PASSWORD),
        (REGISTRY_USER, REGISTRY_PASSWORD),
    ]
    encoded = [base64.b64encode(f"{u}:{p}".encode()).decode() for u, p in pairs]
    return plain + encoded


def leaks(paths: Iterable[Path], texts: Iterable[str] = ()) -> list[str]:
    """`file: secret` (or `output: secret`) for every secret found, file names included."""
    found: list[str] = []
    needles = [s.encode() for s in secrets()]
    for root in paths:
        if not root.exists():
            continue
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            for needle in needles:
                if needle.decode() in str(path.relative_to(root.parent)):
                    found.append(f"{path} (in its name)")
            if path.is_symlink():
                continue
            data = path.read_bytes()
            found += [f"{path}: {n.decode()}" for n in needles if n in data]
    for index, text in enumerate(texts):
        found += [f"output #{index}: {s}" for s in secrets() if s in text]
    return found


@dataclass
class Outcome:
    """One command run: its arguments, exit code and output."""

    name: str
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def show(self) -> str:
        return f"{self.name} {' '.join(self.args)} -> {self.returncode}\n{self.stdout}{self.stderr}"


@dataclass
class Private:
    """The servers, the projects, and every command's outcome."""

    root: Path
    channel_url: str  # basic auth, as written in environment.yml (placeholders)
    token_url: str  # served under /t/<token>/ only, written without the token
    index_url: str
    registry: str
    auth_file: Path
    cache: Path
    bare_cache: Path
    image_tag: str = ""
    ok: dict[str, Outcome] = field(default_factory=dict)
    denied: dict[str, Outcome] = field(default_factory=dict)

    def env(self, *, credentials: bool) -> dict[str, str]:
        """The environment of a run with or without the credentials (given once)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CH_", "REPRO_AUDIT_AUTH"))}
        env["DOCKER_CONFIG"] = str(self.root / "docker-config")  # empty: no ambient logins
        env["NETRC"] = str(self.root / "no-netrc")
        env.pop("RATTLER_AUTH_FILE", None)
        if credentials:
            env.update(
                CH_USER=CHANNEL_USER,
                CH_PASS=CHANNEL_PASSWORD,
                REPRO_AUDIT_AUTH_FILE=str(self.auth_file),
                REPRO_AUDIT_CACHE_DIR=str(self.cache),
            )
        else:
            env["REPRO_AUDIT_CACHE_DIR"] = str(self.bare_cache)
        # uv's own cache too, so the grep covers what uv keeps of the private index
        env["UV_CACHE_DIR"] = str(Path(env["REPRO_AUDIT_CACHE_DIR"]) / "uv-default")
        return env

    def outputs(self) -> list[str]:
        runs = [*self.ok.values(), *self.denied.values()]
        return [r.stdout for r in runs] + [r.stderr for r in runs]
