"""The Docker Engine API calls every run makes, without importing the Docker SDK.

`build`, `verify` and `inventory docker-daemon:` ask the engine a handful of questions
(version, inspect, tag, history) and stream images in and out (`docker save`/`load`, a
container's archive). Importing docker-py costs ~150 ms (requests, urllib3, websocket…),
more than BuildKit's whole cached rebuild, so those calls go over the engine's socket with
`http.client`: `unix://` and plain `tcp://` endpoints. Everything else (pull and push
with their auth and progress streams, the classic builder, ssh:// and TLS endpoints)
goes through the SDK, imported only then (`Engine.sdk`).

The endpoint is the Docker CLI's: DOCKER_HOST, else DOCKER_CONTEXT or the config's
current context (its `meta.json` under `~/.docker/contexts/meta/<sha256 of the name>`),
else the default socket.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.core.errors import InfrastructureError, InputError

DEFAULT_HOST = "unix:///var/run/docker.sock"
#: Seconds to wait for the engine on one call (loads of big layers take a while).
TIMEOUT = 600.0
CHUNK = 1 << 20


class EngineError(Exception):
    """The engine answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class EngineNotFound(EngineError):
    """404: no such image or container."""


@dataclass(frozen=True)
class Endpoint:
    """Where the engine listens: the host URL and the context's TLS material, if any."""

    host: str
    tls: Any = None
    context: str | None = None

    @property
    def direct(self) -> bool:
        """Whether `http.client` can speak to it (unix socket or plain tcp)."""
        scheme = urllib.parse.urlsplit(self.host).scheme
        return self.tls is None and scheme in ("unix", "tcp", "http")


def _config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def current_context() -> str | None:
    """DOCKER_CONTEXT, else the Docker config's `currentContext`."""
    name = os.environ.get("DOCKER_CONTEXT")
    if name:
        return name
    try:
        return json.loads((_config_dir() / "config.json").read_text()).get("currentContext")
    except (OSError, ValueError, AttributeError):
        return None


def endpoint() -> Endpoint:
    """The engine the Docker CLI would talk to (DOCKER_HOST, then the context)."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        if os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH"):
            return Endpoint(host, tls=True)
        return Endpoint(host)
    name = current_context()
    if not name or name == "default":
        return Endpoint(DEFAULT_HOST)
    meta = _config_dir() / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    try:
        docker = json.loads((meta / "meta.json").read_text())["Endpoints"]["docker"]
    except FileNotFoundError:
        raise InputError(
            f"no Docker context named {name!r}", hint="see `docker context ls`"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read Docker context {name!r}: {exc}") from None
    tls_dir = _config_dir() / "contexts" / "tls" / meta.name / "docker"
    tls = True if tls_dir.is_dir() or docker.get("SkipTLSVerify") else None
    return Endpoint(str(docker.get("Host") or DEFAULT_HOST), tls=tls, context=name)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def went_away(host: str, what: str, sent: int, exc: BaseException) -> InfrastructureError:
    """Exit 3: the engine answered, then stopped in the middle of sending `what`."""
    detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return InfrastructureError(
        f"the engine at {host} stopped answering after {sent:,} bytes of {what} ({detail})",
        hint="check that dockerd still runs (`docker info`) and has not run out of "
        "memory or disk, then run again",
    )


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="/:@")


def unreachable(host: str, exc: BaseException | None = None) -> InfrastructureError:
    """Exit 3 with how to start Docker or point the CLI at a running engine."""
    detail = f" ({str(exc).splitlines()[0][:200]})" if exc and str(exc) else ""
    return InfrastructureError(
        f"Docker is not reachable at {host}{detail}",
        hint="start dockerd (e.g. `sudo dockerd &` or `systemctl start docker`), "
        "or point DOCKER_HOST / `docker context use` at a running engine",
    )


class Engine:
    """A connection to the Docker engine: the common calls direct, the rest via the SDK."""

    def __init__(self, where: Endpoint, timeout: float = TIMEOUT, sdk: Any = None) -> None:
        self.endpoint = where
        self.timeout = timeout
        self._sdk: Any = sdk  # a docker-py client already made for this engine, if any
        self._version: dict[str, Any] | None = None
        self._connection: http.client.HTTPConnection | None = None

    # -- transport ---------------------------------------------------------------------

    def _connect(self) -> http.client.HTTPConnection:
        parts = urllib.parse.urlsplit(self.endpoint.host)
        if parts.scheme == "unix":
            return _UnixConnection(parts.path, self.timeout)
        return http.client.HTTPConnection(parts.hostname or "localhost", parts.port or 2375,
                                          timeout=self.timeout)  # fmt: skip

    def _open(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
    ) -> http.client.HTTPResponse:
        """Send one request; the response, raising EngineError for a status ≥ 400."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        chunked = body is not None and not isinstance(body, bytes)
        for attempt in (1, 2):  # reconnect once (see below)
            if self._connection is None:
                self._connection = self._connect()
            try:
                self._connection.request(
                    method, url, body=body, headers=headers or {}, encode_chunked=chunked
                )
                response = self._connection.getresponse()
                break
            except (
                http.client.RemoteDisconnected,  # a kept-alive connection the engine closed
                http.client.ImproperConnectionState,  # an earlier answer left unread
                BrokenPipeError,
                ConnectionResetError,
            ) as exc:
                self._drop_connection()
                if attempt == 2 or chunked:
                    raise unreachable(self.endpoint.host, exc) from None
            except (OSError, http.client.HTTPException) as exc:  # refused, timed out, garbled
                self._drop_connection()
                raise unreachable(self.endpoint.host, exc) from None
        if response.status >= 400:
            text = _read_all(response, self.endpoint.host).decode("utf-8", "replace")
            try:
                message = str(json.loads(text).get("message") or text)
            except (ValueError, AttributeError):
                message = text.strip()
            error = EngineNotFound if response.status == 404 else EngineError
            raise error(response.status, message or f"HTTP {response.status}")
        return response

    def _stream(self, response: http.client.HTTPResponse, what: str) -> Iterator[bytes]:
        """The body in chunks; a reader that stops early costs the connection (the next
        call opens a new one), never a request sent behind an unread answer."""
        sent = 0
        try:
            while chunk := response.read(CHUNK):
                sent += len(chunk)
                yield chunk
        except (OSError, http.client.HTTPException) as exc:  # the engine went away mid-stream
            self._drop_connection()
            raise went_away(self.endpoint.host, what, sent, exc) from None
        finally:
            if not response.isclosed():
                self._drop_connection()

    def _drop_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _call(self, method: str, path: str, **kwargs: Any) -> None:
        """A request whose answer only needs to be a success (read to the end: keep-alive)."""
        _read_all(self._open(method, path, **kwargs), self.endpoint.host)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        data = _read_all(self._open(method, path, **kwargs), self.endpoint.host)
        return json.loads(data) if data.strip() else None

    def close(self) -> None:
        self._drop_connection()
        if self._sdk is not None:
            self._sdk.close()
            self._sdk = None

    # -- the common calls ------------------------------------------------------------

    def ping(self) -> None:
        if not self.endpoint.direct:
            self.sdk.ping()
            return
        self._call("GET", "/_ping")

    def answers(self) -> bool:
        """Whether the engine still answers a ping (after a builder failed oddly)."""
        try:
            self.ping()
        except Exception:  # OSError, EngineError, the SDK's errors: all mean "no"
            self.close()
            return False
        return True

    def version(self) -> dict[str, Any]:
        """The engine's `/version` (asked once per connection)."""
        if self._version is None:
            direct = self.endpoint.direct
            self._version = self._json("GET", "/version") if direct else self.sdk.version()
        return dict(self._version or {})

    def info(self) -> dict[str, Any]:
        """The engine's `/info` (storage driver, root directory, ...)."""
        if not self.endpoint.direct:
            return dict(self.sdk.info())
        return dict(self._json("GET", "/info") or {})

    def inspect_image(self, name: str) -> dict[str, Any]:
        if not self.endpoint.direct:
            return self._via_sdk("inspect_image", name)
        return self._json("GET", f"/images/{_quote(name)}/json")

    def history(self, name: str) -> list[dict[str, Any]]:
        if not self.endpoint.direct:
            return self._via_sdk("history", name)
        return self._json("GET", f"/images/{_quote(name)}/history")

    def tag(self, image: str, repository: str, tag: str) -> None:
        if not self.endpoint.direct:
            self._via_sdk("tag", image, repository, tag, force=True)
            return
        params = {"repo": repository, "tag": tag, "force": 1}
        self._call("POST", f"/images/{_quote(image)}/tag", params=params)

    def remove_image(self, name: str, *, noprune: bool = False, force: bool = False) -> None:
        if not self.endpoint.direct:
            self._via_sdk("remove_image", name, force=force, noprune=noprune)
            return
        params = {"noprune": int(noprune), "force": int(force)}
        self._call("DELETE", f"/images/{_quote(name)}", params=params)

    def save_image(self, name: str) -> Iterator[bytes]:
        """`docker save NAME` as a stream of chunks."""
        if not self.endpoint.direct:
            yield from self._via_sdk("get_image", name, chunk_size=CHUNK)
            return
        yield from self._stream(self._open("GET", f"/images/{_quote(name)}/get"), name)

    def load_image(self, archive: Iterable[bytes]) -> list[dict[str, Any]]:
        """`docker load` an archive streamed from `archive`; the engine's messages."""
        if not self.endpoint.direct:
            return list(self._via_sdk("load_image", archive))
        response = self._open(
            "POST", "/images/load", params={"quiet": 1}, body=archive,
            headers={"Content-Type": "application/x-tar"},
        )  # fmt: skip
        return _json_stream(_read_all(response, self.endpoint.host))

    def create_container(self, image: str, command: list[str]) -> str:
        """A created (never started) container of `image`; its id."""
        if not self.endpoint.direct:
            return self._via_sdk("create_container", image, command=command)["Id"]
        body = json.dumps({"Image": image, "Cmd": command}).encode()
        created = self._json("POST", "/containers/create", body=body,
                             headers={"Content-Type": "application/json"})  # fmt: skip
        return str(created["Id"])

    def container_archive(self, container: str, path: str) -> Iterator[bytes]:
        """The tar of `path` in a container, as a stream of chunks."""
        if not self.endpoint.direct:
            chunks, _ = self._via_sdk("get_archive", container, path, chunk_size=CHUNK)
            yield from chunks
            return
        yield from self._stream(
            self._open("GET", f"/containers/{container}/archive", params={"path": path}),
            f"{path} of container {container[:12]}",
        )

    def remove_container(self, container: str) -> None:
        if not self.endpoint.direct:
            self._via_sdk("remove_container", container, force=True)
            return
        self._call("DELETE", f"/containers/{container}", params={"force": 1})

    # -- the SDK, for the rest -------------------------------------------------------

    @property
    def sdk(self) -> Any:
        """A docker-py client on the same endpoint (pull, push, the classic builder)."""
        if self._sdk is None:
            import docker

            where = self.endpoint
            try:
                if where.tls is not None and os.environ.get("DOCKER_HOST"):
                    self._sdk = docker.from_env(timeout=int(self.timeout))
                elif where.tls is not None and where.context:
                    from docker.context import ContextAPI

                    context = ContextAPI.get_context(where.context)
                    self._sdk = docker.DockerClient(
                        base_url=context.Host, tls=context.TLSConfig, timeout=int(self.timeout)
                    )
                else:
                    self._sdk = docker.DockerClient(base_url=where.host, timeout=int(self.timeout))
            except docker.errors.DockerException as exc:
                raise unreachable(where.host, exc) from None
        return self._sdk

    def _via_sdk(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """An API call through the SDK, its errors as EngineError like the direct calls."""
        import docker.errors

        try:
            return getattr(self.sdk.api, method)(*args, **kwargs)
        except docker.errors.NotFound as exc:
            raise EngineNotFound(404, str(exc.explanation or exc)) from None
        except docker.errors.APIError as exc:
            raise EngineError(exc.status_code or 500, str(exc.explanation or exc)) from None


def _read_all(response: http.client.HTTPResponse, host: str) -> bytes:
    try:
        return response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise unreachable(host, exc) from None


def _json_stream(data: bytes) -> list[dict[str, Any]]:
    """The JSON messages of a streamed answer (one object per line)."""
    out = []
    for line in data.splitlines():
        line = line.strip()
        if line:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                out.append(item)
    return out


def connect(timeout: float = TIMEOUT) -> Engine:
    """An engine that answered a ping; exit 3 with how to start Docker if none did."""
    where = endpoint()
    engine = Engine(where, timeout)
    try:
        engine.ping()
    except InfrastructureError:  # the socket failed: already says where
        engine.close()
        raise
    except Exception as exc:  # an error status, or the SDK's own errors for ssh/TLS
        engine.close()
        raise unreachable(where.host, exc) from None
    return engine
