"""Two anaconda.org-style token channels on one host, ports apart, in one environment.

rattler's auth file is keyed by host name alone (a `host:port` key is never looked up),
so a host-keyed token would reach both ports and one channel would get the other's
token. Each channel must be solved with its own token, and no token may appear in the
lock, the explicit files, the cache or any message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from support import make_channel
from support.http import serve_directory

from audit.channels import (
    install_rattler_auth,
    resolve_channels,
    token_mirrors,
)
from audit.core import credentials
from audit.core.credentials import Credentials

TOKEN_A, TOKEN_B, WRONG = "tkA-PORT-one-SECRET", "tkB-PORT-two-SECRET", "tkX-WRONG-SECRET"
INDEX_PASSWORD = "idx-OTHER-port-SECRET"
SECRETS = (TOKEN_A, TOKEN_B, WRONG, INDEX_PASSWORD)


def _only_here(name: str) -> make_channel.PackageSpec:
    """A package only one channel has (channel A is the fixture channel: python, six, ...)."""
    readme = make_channel.FileSpec(f"share/{name}/README.txt", f"only {name}\n".encode())
    return make_channel.PackageSpec(
        name,
        "1.0.0",
        "h0000000_0",
        0,
        "noarch",
        1_704_067_200_000,
        noarch="generic",
        files=(readme,),
    )


@dataclass(frozen=True)
class Hosts:
    """The channels (`http://127.0.0.1:PORT/chan`, no token): A and B want their own
    token, C is public."""

    a: str
    b: str
    c: str

    @staticmethod
    def netloc(url: str) -> str:
        return url.split("//", 1)[1].split("/", 1)[0]


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    root = tmp_path_factory.mktemp("token-ports")
    make_channel.build_channel(root / "srv-a" / "chan")
    make_channel.write_channel(root / "srv-b" / "chan", [_only_here("tokb-data")])
    make_channel.write_channel(root / "srv-c" / "chan", [_only_here("pubc-data")])
    with ExitStack() as stack:
        a = stack.enter_context(serve_directory(root / "srv-a", token=TOKEN_A))
        b = stack.enter_context(serve_directory(root / "srv-b", token=TOKEN_B))
        c = stack.enter_context(serve_directory(root / "srv-c"))
        assert len({u.rsplit(":", 1)[0] for u in (a, b, c)}) == 1  # one host, three ports
        yield Hosts(f"{a}/chan", f"{b}/chan", f"{c}/chan")


def _leaks(paths: list[Path], texts: list[str]) -> list[str]:
    found = [f"output: {s}" for t in texts for s in SECRETS if s in t]
    for root in paths:
        for path in [p for p in root.rglob("*") if p.is_file()]:
            data = path.read_bytes()
            found += [f"{path}: {s}" for s in SECRETS if s in path.name or s.encode() in data]
    return found


def _project(tmp_path: Path, channels: list[str]) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    text = {
        "channels": channels,
        "dependencies": ["six", "tokb-data", "pubc-data"],
        "platforms": ["linux-64"],
    }
    (project / "environment.yml").write_text(yaml.safe_dump(text), encoding="utf-8")
    return project


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = ("RATTLER_AUTH_FILE", "REPRO_AUDIT_AUTH_FILE", "TOK_A", "TOK_B")
    env = {k: v for k, v in os.environ.items() if k not in clean}
    env.update(
        REPRO_AUDIT_CACHE_DIR=str(tmp_path / "cache"),
        NETRC=str(tmp_path / "no-netrc"),
        HOME=str(tmp_path / "home"),  # no ~/.rattler credentials of this machine
        **extra,
    )
    return env


def _lock(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`repro-audit lock --explicit` in exactly `env` (no ambient credentials)."""
    return subprocess.run(
        [sys.executable, "-m", "audit", "lock", "--explicit"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _auth_file(tmp_path: Path, hosts: Hosts, token_b: str) -> Path:
    auth = tmp_path / "auth.json"
    entries = {
        Hosts.netloc(hosts.a): {"token": TOKEN_A},
        Hosts.netloc(hosts.b): {"token": token_b},
        # another service of the host, sorted first: rattler's header callback sees no
        # port, and a header would keep rattler from putting the token in
        "127.0.0.1:1": f"index-user:{INDEX_PASSWORD}",
    }
    auth.write_text(json.dumps(entries), encoding="utf-8")
    return auth


@pytest.mark.parametrize("given", ["auth-file", "placeholders"])
def test_both_token_channels_are_locked_with_their_own_token(
    hosts: Hosts, tmp_path: Path, given: str
) -> None:
    if given == "auth-file":
        channels = [hosts.a, hosts.b, hosts.c]
        env = _env(tmp_path, REPRO_AUDIT_AUTH_FILE=str(_auth_file(tmp_path, hosts, TOKEN_B)))
    else:
        channels = [
            hosts.a.replace("/chan", "/t/${TOK_A}/chan"),
            hosts.b.replace("/chan", "/t/${TOK_B}/chan"),
            hosts.c,
        ]
        env = _env(tmp_path, TOK_A=TOKEN_A, TOK_B=TOKEN_B)
    project = _project(tmp_path, channels)
    done = _lock(project, env)
    assert done.returncode == 0, done.stdout + done.stderr
    lock = yaml.safe_load((project / "conda-lock.yml").read_text(encoding="utf-8"))
    urls = {p["name"]: p["url"] for p in lock["package"]}
    assert urls["six"].startswith(hosts.a + "/noarch/")
    assert urls["tokb-data"].startswith(hosts.b + "/noarch/")
    assert urls["pubc-data"].startswith(hosts.c + "/noarch/")
    assert {"python", "six", "tokb-data", "pubc-data"} <= set(urls)
    assert [c["url"] for c in lock["metadata"]["channels"]] == channels
    explicit = (project / "conda-linux-64.lock").read_text(encoding="utf-8")
    assert hosts.b + "/noarch/tokb-data-1.0.0-h0000000_0.conda" in explicit
    assert _leaks([project, tmp_path / "cache"], [done.stdout, done.stderr]) == []


def test_a_wrong_token_for_one_port_is_denied_naming_that_channel(
    hosts: Hosts, tmp_path: Path
) -> None:
    env = _env(tmp_path, REPRO_AUDIT_AUTH_FILE=str(_auth_file(tmp_path, hosts, WRONG)))
    project = _project(tmp_path, [hosts.a, hosts.b, hosts.c])
    done = _lock(project, env)
    assert done.returncode == 2, done.stdout + done.stderr
    message = done.stderr.strip().splitlines()[0]
    assert message.startswith(f"error: access denied (HTTP 401) to channel {hosts.b} ("), message
    assert Hosts.netloc(hosts.a) not in message
    assert not (project / "conda-lock.yml").exists()
    assert _leaks([project, tmp_path / "cache"], [done.stdout, done.stderr]) == []


def test_each_token_channel_gets_its_own_mirror_and_no_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan without a server: each token channel is mirrored to its own `/t/<token>/`
    URL, rattler's file keeps only hosts no channel is on."""
    auth = tmp_path / "auth.json"
    entries = {
        "127.0.0.1:8001": {"token": "tk-1"},
        "127.0.0.1:8002": {"token": "tk-2"},
        "127.0.0.1:8003": "index-user:index-pw",
        "tok.example": {"token": "tk-3"},
    }
    auth.write_text(json.dumps(entries), encoding="utf-8")
    monkeypatch.setattr(credentials, "_CURRENT", Credentials(auth_file=auth, env={}))
    monkeypatch.setenv("RATTLER_AUTH_FILE", str(tmp_path / "theirs.json"))
    refs = resolve_channels(
        ["http://127.0.0.1:8001/a", "http://127.0.0.1:8002/b", "http://127.0.0.1:8004/public"]
    )
    assert token_mirrors(refs) == {
        "http://127.0.0.1:8001/a/": ["http://127.0.0.1:8001/t/tk-1/a/"],
        "http://127.0.0.1:8002/b/": ["http://127.0.0.1:8002/t/tk-2/b/"],
    }
    install_rattler_auth(tmp_path, refs)
    assert os.environ["RATTLER_AUTH_FILE"] == str(tmp_path / "rattler-auth.json")
    written = json.loads((tmp_path / "rattler-auth.json").read_text(encoding="utf-8"))
    assert written == {"tok.example": {"CondaToken": "tk-3"}}


def test_the_header_callback_adds_nothing_to_a_request_with_a_token_path(tmp_path: Path) -> None:
    """rattler's callback sees no port: another port's password must not stop the token
    (rattler's own auth step skips a request that has a header) nor reach that server."""
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"127.0.0.1:8003": "index-user:index-pw"}), encoding="utf-8")
    store = Credentials(auth_file=auth, env={})
    assert store.header_for("127.0.0.1", "/simple/x/") is not None
    assert store.header_for("127.0.0.1", "/t/tk-1/a/noarch/repodata.json") is None


def test_a_token_given_in_the_url_is_mirrored_and_a_public_channel_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(credentials, "_CURRENT", Credentials(env={}))
    monkeypatch.delenv("RATTLER_AUTH_FILE", raising=False)
    token, public = "http://127.0.0.1:8001/t/tk-1/a", "http://127.0.0.1:8002/public"
    both = resolve_channels([token, public])
    assert token_mirrors(both) == {"http://127.0.0.1:8001/a/": ["http://127.0.0.1:8001/t/tk-1/a/"]}
    # the store now holds tk-1 for 127.0.0.1: rattler's file must not give it to `public`
    install_rattler_auth(tmp_path, resolve_channels([public]))
    assert "RATTLER_AUTH_FILE" not in os.environ
    assert not (tmp_path / "rattler-auth.json").exists()
