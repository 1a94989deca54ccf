"""The one credential store and the one HTTP client, against real servers on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from support.http import serve_directory, serve_handler

from audit.core import http
from audit.core.credentials import Credentials, env_vars, expand, hint_for
from audit.core.errors import EXIT_INFRA, EXIT_INPUT, AccessDeniedError, InfrastructureError
from audit.core.redact import has_credentials, redact_url, strip_credentials

# --------------------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    ("url", "redacted", "secret"),
    [
        ("https://u:pw@h/c", "https://h/c", True),
        ("https://h/t/tk-1/c/noarch/x.conda", "https://h/c/noarch/x.conda", True),
        ("https://${U}:${P}@h/c", "https://${U}:${P}@h/c", False),
        ("https://$U:$P@h/c", "https://$U:$P@h/c", False),
        ("https://h/t/${TOKEN}/c", "https://h/t/${TOKEN}/c", False),
        ("https://${TOKEN}@h/c", "https://${TOKEN}@h/c", False),
        ("https://alice:${P}@h/c", "https://alice:${P}@h/c", False),
        ("https://${U}:literal@h/c", "https://h/c", True),
        ("https://h/c", "https://h/c", False),
    ],
)
def test_redact_keeps_placeholders_and_drops_literal_secrets(
    url: str, redacted: str, secret: bool
) -> None:
    assert redact_url(url) == redacted
    assert has_credentials(url) is secret
    assert "@" not in strip_credentials(url) and "/t/" not in strip_credentials(url)


def test_env_vars_and_expansion() -> None:
    url = "https://${CH_USER}:$CH_PASS@h/t/${TOK}/c"
    assert env_vars(url) == ["CH_PASS", "CH_USER", "TOK"]
    expanded, missing = expand(url, {"CH_USER": "a", "CH_PASS": "b"})
    assert expanded == "https://a:b@h/t//c"
    assert missing == ["TOK"]


# --------------------------------------------------------------------------- resolution


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_sources_in_their_documented_order(tmp_path: Path) -> None:
    ours = tmp_path / "auth.json"
    ours.write_text(
        json.dumps(
            {
                "h.example:8443": "file-user:file-pw",
                "h.example/private": {"username": "path-user", "password": "path-pw"},
                "tok.example": {"token": "tk-file"},
                "*.wild.example": {"bearer": "bearer-1"},
            }
        )
    )
    rattler = tmp_path / "rattler.json"
    basic = {"BasicHTTP": {"username": "r", "password": "rp"}}
    rattler.write_text(json.dumps({"r.example": basic}))
    netrc = tmp_path / "netrc"
    netrc.write_text("machine n.example login nu password np\n")
    netrc.chmod(0o600)
    env = {"RATTLER_AUTH_FILE": str(rattler), "CH_U": "env-user", "CH_P": "env-pw"}
    store = Credentials(auth_file=ours, env=env)
    store.register_urls(["https://${CH_U}:${CH_P}@h.example:8443/ch"])
    # 1. the URL's own placeholders beat the auth file for the same host and port
    assert store.authorize("https://h.example:8443/ch/noarch/x.conda")[1] == {
        "Authorization": _basic("env-user", "env-pw")
    }
    # 2. the auth file: host:port, then a path prefix (longest match wins)
    assert store.authorize("https://h.example:8443/other")[1] == {
        "Authorization": _basic("file-user", "file-pw")
    }
    assert store.authorize("https://h.example/private/x")[1] == {
        "Authorization": _basic("path-user", "path-pw")
    }
    assert store.authorize("https://h.example/public/x") == ("https://h.example/public/x", {})
    # a token goes into the path, a wildcard host takes a bearer token
    assert store.authorize("https://tok.example/ch/noarch/repodata.json") == (
        "https://tok.example/t/tk-file/ch/noarch/repodata.json",
        {},
    )
    assert store.authorize("https://a.wild.example/x")[1] == {"Authorization": "Bearer bearer-1"}
    # 3. rattler's own file
    assert store.authorize("https://r.example/x")[1] == {"Authorization": _basic("r", "rp")}
    assert store.entries_for_rattler() == {"tok.example": {"CondaToken": "tk-file"}}


def test_netrc_and_uv_index_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine n.example login nu password np\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    env = {
        "UV_INDEX": "internal=https://pypi.corp.example/simple",
        "UV_INDEX_INTERNAL_USERNAME": "uvu",
        "UV_INDEX_INTERNAL_PASSWORD": "uvp",
        "PIP_EXTRA_INDEX_URL": "https://pu:pp@pip.example/simple",
    }
    store = Credentials(env=env)
    assert store.for_url("https://n.example/x").password == "np"
    assert store.for_url("https://pypi.corp.example/simple/six/").password == "uvp"
    assert store.for_url("https://pip.example/files/six.whl").password == "pp"
    assert store.for_url("https://nobody.example/x") is None


def test_secrets_never_in_repr_or_hints(tmp_path: Path) -> None:
    store = Credentials(env={"P": "hunter2-secret"})
    store.register_urls(["https://u:${P}@h.example/c", "https://h2.example/t/${MISSING}/c"])
    secret = store.for_url("https://h.example/c/x")
    assert secret is not None and "hunter2" not in repr(secret) and "hunter2" not in repr(store)
    hint = hint_for("https://h2.example/c/x", store=store)
    assert "set MISSING" in hint and "h2.example" in hint and "--auth-file" in hint


def test_a_bad_auth_file_is_exit_2_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "auth.json"
    bad.write_text('{"h": 1}')
    with pytest.raises(Exception) as info:
        Credentials(auth_file=bad).for_url("https://h/x")
    assert info.value.exit_code == EXIT_INPUT and str(bad) in info.value.one_line()


# --------------------------------------------------------------------------- HTTP client


class _Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        self.lock = threading.Lock()


@pytest.fixture
def recorder() -> Iterator[tuple[str, _Recorder]]:
    """A server scripted by path: /redirect → the second server, /busy → 503 once, …"""
    log = _Recorder()
    busy = {"count": 0}

    with serve_handler(_handler(log, None, busy)) as target:

        class Front(_handler(log, f"http://{target}", busy)):  # type: ignore[misc]
            pass

        with serve_handler(Front) as front:
            yield f"http://{front}", log


def _handler(log: _Recorder, redirect: str | None, busy: dict[str, int]) -> Any:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", "3" if status == 200 else "0")
            self.end_headers()
            if status == 200 and self.command == "GET":
                self.wfile.write(b"abc")

        def do_GET(self) -> None:
            with log.lock:
                log.seen.append((self.command, self.path, self.headers.get("Authorization")))
            if self.path == "/redirect" and redirect:
                return self._answer(302, {"Location": f"{redirect}/landed"})
            if self.path == "/busy":
                busy["count"] += 1
                if busy["count"] == 1:
                    return self._answer(503, {"Retry-After": "0"})
            if self.path == "/nohead" and self.command == "HEAD":
                return self._answer(405)
            if self.path == "/gone":
                return self._answer(404)
            if self.path == "/denied":
                return self._answer(401)
            return self._answer(200)

        do_HEAD = do_GET

    return Handler


def test_authorization_is_never_forwarded_on_a_redirect(recorder: tuple[str, _Recorder]) -> None:
    base, log = recorder
    answer = http.request(
        "GET", f"{base}/redirect", headers={"Authorization": "Basic c2VjcmV0"}, auth=False
    )
    assert answer.status == 200 and answer.data == b"abc"
    assert log.seen == [("GET", "/redirect", "Basic c2VjcmV0"), ("GET", "/landed", None)]


def test_retries_honour_retry_after_then_succeed(recorder: tuple[str, _Recorder]) -> None:
    base, log = recorder
    answer = http.request("GET", f"{base}/busy", retries=2, backoff=0.01)
    assert answer.status == 200
    assert [path for _, path, _ in log.seen] == ["/busy", "/busy"]


def test_probe_statuses(recorder: tuple[str, _Recorder], tmp_path: Path) -> None:
    base, log = recorder
    assert http.probe(f"{base}/ok").status == http.OK
    assert http.probe(f"{base}/ok").size == 3
    nohead = http.probe(f"{base}/nohead")
    assert nohead.status == http.OK
    assert [m for m, p, _ in log.seen if p == "/nohead"] == ["HEAD", "GET"]
    assert http.probe(f"{base}/gone").status == http.GONE
    assert http.probe(f"{base}/denied").status == http.DENIED
    assert http.probe("http://127.0.0.1:9/x", timeout=1, retries=0).status == http.UNREACHABLE
    assert http.probe((tmp_path / "missing").as_uri()).status == http.GONE


def test_download_with_basic_auth_from_an_auth_file(tmp_path: Path, monkeypatch) -> None:
    from audit.core import credentials

    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "f.bin").write_bytes(b"payload")
    with serve_directory(tmp_path / "srv", auth=("u", "pw-xyz")) as url:
        target = tmp_path / "out.bin"
        monkeypatch.setattr(credentials, "_CURRENT", Credentials(env={}))
        with pytest.raises(AccessDeniedError) as denied:
            http.download(f"{url}/f.bin", target, what="f.bin")
        assert denied.value.exit_code == EXIT_INPUT
        assert "give credentials for 127.0.0.1:" in denied.value.one_line()
        assert not target.exists()
        auth = tmp_path / "auth.json"
        auth.write_text(json.dumps({url.split("//")[1]: "u:pw-xyz"}))
        monkeypatch.setattr(credentials, "_CURRENT", Credentials(auth_file=auth, env={}))
        http.download(f"{url}/f.bin", target, what="f.bin")
        assert target.read_bytes() == b"payload"
    with pytest.raises(InfrastructureError) as down:
        http.download(f"{url}/f.bin", tmp_path / "again", what="f.bin", retries=0, timeout=1)
    assert down.value.exit_code == EXIT_INFRA


def test_keyring_is_asked_after_a_401(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keyring = pytest.importorskip("keyring")
    from keyring.backend import KeyringBackend
    from keyring.credentials import SimpleCredential

    from audit.core import credentials

    asked: list[str] = []

    class Memory(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            return None

        def set_password(self, service: str, username: str, password: str) -> None:
            raise NotImplementedError

        def get_credential(self, service: str, username: str | None) -> Any:
            asked.append(service)
            return SimpleCredential("kr-user", "kr-pw") if "127.0.0.1" in service else None

    previous = keyring.get_keyring()
    keyring.set_keyring(Memory())
    try:
        (tmp_path / "srv").mkdir()
        (tmp_path / "srv" / "f").write_bytes(b"ok")
        with serve_directory(tmp_path / "srv", auth=("kr-user", "kr-pw")) as url:
            monkeypatch.setattr(credentials, "_CURRENT", Credentials(env={}))
            assert http.probe(f"{url}/f").status == http.OK
            assert http.probe(f"{url}/f").status == http.OK
    finally:
        keyring.set_keyring(previous)
    assert len(asked) == 1  # once per host, and only because the server said 401


@pytest.mark.parametrize(
    "command", ["lock", "pin", "build", "inventory", "diff", "drift", "check", "verify"]
)
def test_every_network_command_takes_an_auth_file(command: str) -> None:
    from support.cli import repro_audit

    done = repro_audit(command, "--help")
    assert done.returncode == 0, done.stderr
    assert "--auth-file" in done.stdout


def test_unset_placeholders_fall_through_to_the_auth_file(tmp_path: Path) -> None:
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"h.example": "file-user:file-pw"}))
    store = Credentials(auth_file=auth, env={})
    store.register_urls(["https://${CH_USER}:${CH_PASS}@h.example/c"])
    assert store.for_url("https://${CH_USER}:${CH_PASS}@h.example/c/x").password == "file-pw"
    assert store.missing_vars("h.example") == ["CH_PASS", "CH_USER"]
    assert Credentials(env={}).for_url("https://${CH_USER}:${CH_PASS}@h.example/c") is None


def test_two_servers_on_one_host_keep_their_own_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """127.0.0.1:P1 and 127.0.0.1:P2 are two indexes: each port gets its own token or login."""
    from audit.core import credentials

    (tmp_path / "srv" / "ch").mkdir(parents=True)
    (tmp_path / "srv" / "ch" / "f.bin").write_bytes(b"payload")
    srv = tmp_path / "srv"
    with (
        serve_directory(srv, token="tk-one") as one,
        serve_directory(srv, token="tk-two") as two,
        serve_directory(srv, auth=("u1", "pw-one")) as basic1,
        serve_directory(srv, auth=("u2", "pw-two")) as basic2,
    ):
        hosts = {url: url.split("//", 1)[1] for url in (one, two, basic1, basic2)}
        assert len({h.split(":")[0] for h in hosts.values()}) == 1  # one host, four ports
        auth = tmp_path / "auth.json"
        auth.write_text(
            json.dumps({hosts[one]: {"token": "tk-one"}, hosts[two]: {"token": "tk-two"}})
        )
        store = Credentials(auth_file=auth, env={})
        store.register_urls(
            [
                f"http://u1:pw-one@{hosts[basic1]}/simple",
                f"http://u2:pw-two@{hosts[basic2]}/simple",
            ],
            whole_host=True,
        )
        assert store.authorize(f"{one}/ch/f.bin") == (f"{one}/t/tk-one/ch/f.bin", {})
        assert store.authorize(f"{two}/ch/f.bin") == (f"{two}/t/tk-two/ch/f.bin", {})
        assert store.authorize(f"{basic1}/files/x.whl")[1] == {
            "Authorization": _basic("u1", "pw-one")
        }
        assert store.authorize(f"{basic2}/files/x.whl")[1] == {
            "Authorization": _basic("u2", "pw-two")
        }
        assert store.with_userinfo(f"{basic2}/simple") == f"http://u2:pw-two@{hosts[basic2]}/simple"
        monkeypatch.setattr(credentials, "_CURRENT", store)
        for index, url in enumerate((one, two, basic1, basic2)):  # each server checks its own
            http.download(f"{url}/ch/f.bin", tmp_path / f"out{index}", what="f.bin", retries=0)
            assert (tmp_path / f"out{index}").read_bytes() == b"payload"
        # channel URLs carrying their tokens: registered per port as well
        channels = Credentials(env={})
        channels.register_urls([f"{one}/t/tk-one/ch", f"{two}/t/tk-two/ch"])
        assert channels.authorize(f"{two}/ch/f.bin")[0] == f"{two}/t/tk-two/ch/f.bin"
        assert channels.authorize(f"{one}/ch/f.bin")[0] == f"{one}/t/tk-one/ch/f.bin"
        # an unset placeholder of one port is not the other port's hint
        hints = Credentials(env={})
        hints.register_urls([f"{one}/t/${{ONE_TOKEN}}/ch", f"{two}/t/${{TWO_TOKEN}}/ch"])
        assert "set ONE_TOKEN" in hint_for(f"{one}/ch/x", store=hints)
        assert "TWO_TOKEN" not in hint_for(f"{one}/ch/x", store=hints)
        assert hints.missing_vars("127.0.0.1") == ["ONE_TOKEN", "TWO_TOKEN"]
