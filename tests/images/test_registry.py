"""The registry client against a real `docker-registry` (anonymous and htpasswd) and a stub."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from pathlib import Path

import pytest
from support.registry import LocalRegistry, StaticCredentials, push_image, push_index

from audit.core.errors import EXIT_INFRA, EXIT_INPUT
from audit.registry.client import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    DeniedError,
    NotFoundError,
    RegistryClient,
    UnreachableError,
)
from audit.registry.credentials import Credential, DockerCredentials
from audit.registry.reference import parse_reference

from .conftest import PASSWORD, USER
from .stub_registry import MANIFEST_DIGEST, Script, silent_server, stub_registry


def client(**kwargs: object) -> RegistryClient:
    kwargs.setdefault("credentials", StaticCredentials())
    kwargs.setdefault("backoff", 0.01)
    return RegistryClient(**kwargs)  # type: ignore[arg-type]


def test_single_manifest_resolves_with_platform_from_config(
    registry: LocalRegistry, pusher: RegistryClient
) -> None:
    digest = push_image(pusher, registry.host, "reg/single", "1.0", architecture="s390x")
    resolved = client().resolve(parse_reference(f"{registry.host}/reg/single:1.0"))
    assert resolved.digest == digest
    assert resolved.media_type == OCI_MANIFEST
    [platform] = resolved.platforms
    assert (platform.os, platform.architecture, platform.digest) == ("linux", "s390x", digest)


def test_docker_media_types(registry: LocalRegistry, pusher: RegistryClient) -> None:
    digest = push_image(pusher, registry.host, "reg/docker", "v2", docker_media_types=True)
    resolved = client().resolve(parse_reference(f"{registry.host}/reg/docker:v2"))
    assert (resolved.digest, resolved.media_type) == (digest, DOCKER_MANIFEST)


def test_multi_arch_index_pins_index_digest_and_lists_platforms(
    registry: LocalRegistry, pusher: RegistryClient
) -> None:
    platforms = [("linux", "amd64", None), ("linux", "arm64", "v8")]
    index, per_platform = push_index(pusher, registry.host, "reg/multi", "3", platforms)
    resolved = client().resolve(parse_reference(f"{registry.host}/reg/multi:3"))
    assert (resolved.digest, resolved.media_type) == (index, OCI_INDEX)
    found = {(p.os, p.architecture, p.variant): p.digest for p in resolved.platforms}
    assert found == per_platform
    by_digest = client().resolve(parse_reference(f"{registry.host}/reg/multi@{index}"))
    assert by_digest.digest == index


def test_missing_tag_is_bad_input(registry: LocalRegistry, pusher: RegistryClient) -> None:
    push_image(pusher, registry.host, "reg/missing", "1.0")
    with pytest.raises(NotFoundError) as caught:
        client().resolve(parse_reference(f"{registry.host}/reg/missing:2.0"))
    assert caught.value.exit_code == EXIT_INPUT
    assert "reg/missing:2.0" in caught.value.message


def test_htpasswd_denies_anonymous_and_wrong_password(
    auth_registry: LocalRegistry, auth_pusher: RegistryClient
) -> None:
    push_image(auth_pusher, auth_registry.host, "auth/app", "1.0")
    ref = parse_reference(f"{auth_registry.host}/auth/app:1.0")
    with pytest.raises(DeniedError) as caught:
        client().resolve(ref)
    assert caught.value.exit_code == EXIT_INPUT
    wrong = StaticCredentials({auth_registry.host: Credential(USER, "nope")})
    with pytest.raises(DeniedError):
        client(credentials=wrong).resolve(ref)


def test_htpasswd_with_docker_config_auths(
    auth_registry: LocalRegistry, auth_pusher: RegistryClient, docker_config: Path
) -> None:
    digest = push_image(auth_pusher, auth_registry.host, "auth/cfg", "1.0")
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config = {"auths": {f"http://{auth_registry.host}/v2/": {"auth": token}}}
    (docker_config / "config.json").write_text(json.dumps(config))
    ref = parse_reference(f"{auth_registry.host}/auth/cfg:1.0")
    assert client(credentials=DockerCredentials()).resolve(ref).digest == digest


def test_htpasswd_with_credential_helper(
    auth_registry: LocalRegistry,
    auth_pusher: RegistryClient,
    docker_config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    digest = push_image(auth_pusher, auth_registry.host, "auth/helper", "1.0")
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    answer = json.dumps({"ServerURL": auth_registry.host, "Username": USER, "Secret": PASSWORD})
    helper.write_text(f"#!/bin/sh\nread server\necho '{answer}'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    config = {"credHelpers": {auth_registry.host: "fake"}}
    (docker_config / "config.json").write_text(json.dumps(config))
    ref = parse_reference(f"{auth_registry.host}/auth/helper:1.0")
    assert client(credentials=DockerCredentials()).resolve(ref).digest == digest


def test_bearer_token_flow_with_basic_credentials_at_token_endpoint() -> None:
    script = Script(bearer=True, token_user=("bob", "pw"))
    with stub_registry(script) as host:
        creds = StaticCredentials({host: Credential("bob", "pw")})
        resolved = client(credentials=creds).resolve(parse_reference(f"{host}/team/app:1.0"))
    assert resolved.digest == MANIFEST_DIGEST
    assert resolved.platforms[0].variant == "v7"
    token_requests = [path for _, path, _ in script.seen if path.startswith("/token")]
    assert token_requests == ["/token?service=stub&scope=repository%3Ateam%2Fapp%3Apull"]


def test_bearer_token_refused_is_denied() -> None:
    script = Script(bearer=True, token_user=("bob", "pw"))
    with stub_registry(script) as host, pytest.raises(DeniedError):
        client().resolve(parse_reference(f"{host}/team/app:1.0"))


def test_retries_429_and_5xx_with_backoff() -> None:
    script = Script(failures=[429, 503, 502], retry_after="0")
    with stub_registry(script) as host:
        resolved = client().resolve(parse_reference(f"{host}/team/app:1.0"))
    assert resolved.digest == MANIFEST_DIGEST
    assert len([s for s in script.seen if "/manifests/" in s[1]]) == 4


def test_persistent_5xx_is_infrastructure_error() -> None:
    script = Script(failures=[503] * 10)
    with stub_registry(script) as host, pytest.raises(UnreachableError) as caught:
        client(retries=2).resolve(parse_reference(f"{host}/team/app:1.0"))
    assert caught.value.exit_code == EXIT_INFRA


def test_registry_that_does_not_answer_times_out() -> None:
    with silent_server() as host:
        started = time.monotonic()
        with pytest.raises(UnreachableError) as caught:
            client(timeout=0.3, retries=1).resolve(parse_reference(f"{host}/team/app:1.0"))
    assert caught.value.exit_code == EXIT_INFRA
    assert time.monotonic() - started < 5


def test_connection_refused_is_infrastructure_error() -> None:
    from support.registry import free_port

    ref = parse_reference(f"127.0.0.1:{free_port()}/team/app:1.0")
    with pytest.raises(UnreachableError):
        client(retries=1).resolve(ref)


def test_authorization_is_not_forwarded_on_redirect() -> None:
    sink = Script()
    with stub_registry(sink) as other:
        script = Script(bearer=True, blob_redirect=f"http://{other}")
        with stub_registry(script) as host:
            client().resolve(parse_reference(f"{host}/team/app:1.0"))
    assert sink.seen and all(auth is None for _, _, auth in sink.seen)


def test_scheme_http_only_for_loopback_and_insecure_hosts() -> None:
    plain = client(insecure=frozenset({"reg.internal:5000"}))
    assert plain._scheme("127.0.0.1:5000") == "http"
    assert plain._scheme("localhost:5000") == "http"
    assert plain._scheme("[::1]:5000") == "http"
    assert plain._scheme("reg.internal:5000") == "http"
    assert plain._scheme("registry-1.docker.io") == "https"
    assert plain._scheme("127.0.0.1.example.com") == "https"


def test_insecure_registries_from_env_and_option(monkeypatch: pytest.MonkeyPatch) -> None:
    from audit.cli.common import insecure_registries as _insecure_registries

    monkeypatch.setenv("REPRO_AUDIT_INSECURE_REGISTRIES", "a:5000, b")
    assert _insecure_registries(["c"]) == frozenset({"a:5000", "b", "c"})


def test_docker_config_hub_key_and_creds_store(
    docker_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = base64.b64encode(b"hubuser:hubpass").decode()
    helper = tmp_path / "bin" / "docker-credential-store"
    helper.parent.mkdir()
    helper.write_text(
        "#!/bin/sh\nread server\n"
        'if [ "$server" = "ghcr.io" ]; then echo \'{"Username":"<token>","Secret":"idt"}\';'
        " else exit 1; fi\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    config = {"auths": {"https://index.docker.io/v1/": {"auth": token}}, "credsStore": "store"}
    (docker_config / "config.json").write_text(json.dumps(config))
    creds = DockerCredentials()
    hub = creds.lookup("registry-1.docker.io")
    assert hub is not None and (hub.username, hub.secret) == ("hubuser", "hubpass")
    assert "hubpass" not in repr(hub)
    ghcr = creds.lookup("ghcr.io")
    assert ghcr is not None and ghcr.identity_token == "idt"
    assert creds.lookup("quay.io") is None
