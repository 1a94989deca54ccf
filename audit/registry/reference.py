"""Image references: the grammar of distribution/reference, with Docker's normalisation.

`python` and `docker.io/library/python:latest` name the same image; the lock and the
registry client only ever see the normalised form, while the rewrite keeps what the user
wrote. The grammar follows github.com/distribution/reference (regexp.go).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_PATH_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_DOMAIN_RE = re.compile(_DOMAIN)
_TAG_RE = re.compile(_TAG)
_DIGEST_RE = re.compile(_DIGEST)
_SHA256_RE = re.compile(r"sha256:[0-9a-f]{64}")
TRANSPORT_PREFIX = "docker://"


class ReferenceError(ValueError):
    """A string that is not a valid image reference; the message says why."""


@dataclass(frozen=True, order=True)
class ImageRef:
    """A normalised reference: registry host, repository path, tag and/or digest."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None = None
    implicit_tag: bool = field(default=False, compare=False)

    @property
    def name(self) -> str:
        """`registry/repository`: the image without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """Host to talk to: Docker Hub's API lives on registry-1.docker.io."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def pinned(self) -> bool:
        return self.digest is not None

    def tagged(self) -> str:
        """`registry/repository:tag` (or `@digest` when no tag): the key a tag resolves from."""
        if self.tag is not None:
            return f"{self.name}:{self.tag}"
        return f"{self.name}@{self.digest}"

    def canonical(self) -> str:
        """Full normalised form with tag and digest, as recorded in the image lock."""
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    def with_digest(self, digest: str | None) -> ImageRef:
        return ImageRef(self.registry, self.repository, self.tag, digest, self.implicit_tag)

    def __str__(self) -> str:
        return self.canonical()


def split_domain(name: str) -> tuple[str, str]:
    """Split `name` into (domain, path) the way Docker does: a first component is a
    registry when it has a `.` or `:`, is `localhost`, or has an upper-case letter."""
    first, sep, rest = name.partition("/")
    if sep and (("." in first or ":" in first) or first == "localhost" or first != first.lower()):
        return first, rest
    return "", name


def parse_reference(text: str) -> ImageRef:
    """Parse and normalise `text` (optionally `docker://`-prefixed); raise ReferenceError."""
    original = text
    if text.startswith(TRANSPORT_PREFIX):
        text = text[len(TRANSPORT_PREFIX) :]
    if not text:
        raise ReferenceError("empty image reference")
    if any(ch.isspace() for ch in text):
        raise ReferenceError(f"image reference {original!r} contains whitespace")
    remainder, at, digest = text.partition("@")
    if at:
        if not _DIGEST_RE.fullmatch(digest):
            raise ReferenceError(f"invalid digest {digest!r} in {original!r}")
        if digest.startswith("sha256:") and not _SHA256_RE.fullmatch(digest):
            raise ReferenceError(f"invalid sha256 digest {digest!r} in {original!r}")
    tag: str | None = None
    last_slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > last_slash:
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            raise ReferenceError(f"invalid tag {tag!r} in {original!r}")
    domain, path = split_domain(remainder)
    if domain and not _DOMAIN_RE.fullmatch(domain):
        raise ReferenceError(f"invalid registry {domain!r} in {original!r}")
    if not _PATH_RE.fullmatch(path):
        if path.lower() != path and _PATH_RE.fullmatch(path.lower()):
            raise ReferenceError(f"repository name must be lowercase in {original!r}")
        raise ReferenceError(f"invalid repository name {path!r} in {original!r}")
    if len(remainder) > 255:
        raise ReferenceError(f"repository name longer than 255 characters in {original!r}")
    domain = domain or DOCKER_HUB
    if domain in _HUB_ALIASES:
        domain = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    implicit = tag is None and not at
    if implicit:
        tag = "latest"
    return ImageRef(domain, path, tag, digest if at else None, implicit)


def is_loopback(host: str) -> bool:
    """Loopback registries speak plain http, as dockerd treats them as insecure."""
    import ipaddress

    if host.startswith("["):
        bare = host[1:].split("]", 1)[0]
    else:
        bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def split_tag(reference: str) -> tuple[str, str]:
    """`registry:5000/name:tag` → (`registry:5000/name`, `tag`); no tag → `latest`."""
    repository, _, tag = reference.rpartition(":")
    if not repository or "/" in tag:
        return reference, "latest"
    return repository, tag
