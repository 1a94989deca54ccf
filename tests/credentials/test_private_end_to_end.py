"""Private channels, a private index and a private registry, end to end, on 127.0.0.1.

With the credentials given once (`CH_USER`/`CH_PASS` for the `${VAR}` channel of
environment.yml, everything else in `REPRO_AUDIT_AUTH_FILE`): lock, pin, build, verify
`--rebuild`, `verify --mirror --write-mirror`, `check --online` and `drift` succeed.
Without them each fails with one line saying access was denied and how to give
credentials, exit 2. Then no password or token is found in any output file, the cache
directory (file names included), stdout or stderr.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from private_servers import (
    CHANNEL_PASSWORD,
    CHANNEL_USER,
    INDEX_PASSWORD,
    INDEX_USER,
    REGISTRY_PASSWORD,
    REGISTRY_USER,
    TOKEN,
    Outcome,
    Private,
    leaks,
)
from support import make_channel
from support.build import busybox_path, import_busybox
from support.docker import require_docker, require_tool
from support.http import serve_directory
from support.pypi_index import build_wheel, write_index
from support.registry import LocalRegistry, make_htpasswd

ENVIRONMENT = """\
name: private
channels:
  - http://${{CH_USER}}:${{CH_PASS}}@{host}
dependencies:
  - python 3.11.*
  - six
  - tzdata
  - pip
  - pip:
    - --index-url {index}
    - tinyapp ==1.1
platforms:
  - linux-64
"""

TOKEN_ENVIRONMENT = """\
channels:
  - {url}
dependencies:
  - six
platforms:
  - linux-64
"""


def run(private: Private, cwd: Path, *args: str, credentials: bool) -> Outcome:
    """`repro-audit ARGS` as a user runs it, in exactly the environment given."""
    done = subprocess.run(
        [sys.executable, "-m", "audit", *args],
        cwd=cwd,
        env=private.env(credentials=credentials),
        capture_output=True,
        text=True,
        timeout=600,
    )
    return Outcome(args[0], args, done.returncode, done.stdout, done.stderr)


def commit(directory: Path) -> None:
    identity = ["-c", "user.email=cred@example.invalid", "-c", "user.name=cred"]
    subprocess.run(["git", "init", "-q"], cwd=directory, check=True)
    for args in (["add", "-A"], ["commit", "-qm", "locked"]):
        subprocess.run(["git", *identity, *args], cwd=directory, check=True, capture_output=True)


def _servers(root: Path, stack: contextlib.ExitStack) -> tuple[str, str, str, LocalRegistry]:
    channel = make_channel.build_channel(root / "channel")
    basic = stack.enter_context(serve_directory(channel, auth=(CHANNEL_USER, CHANNEL_PASSWORD)))
    # the same host as the basic-auth channel, another port: its token must not reach it
    token = stack.enter_context(serve_directory(channel, token=TOKEN))
    wheels = root / "wheels"
    wheels.mkdir()
    index_root = write_index(
        root / "index",
        [
            build_wheel(wheels, "tinyapp", "1.1", requires_dist=["tinylib>=2"]),
            build_wheel(wheels, "tinylib", "2.1"),
        ],
    )
    index = stack.enter_context(serve_directory(index_root, auth=(INDEX_USER, INDEX_PASSWORD)))
    htpasswd = root / "htpasswd"
    make_htpasswd(htpasswd, REGISTRY_USER, REGISTRY_PASSWORD)
    registry = LocalRegistry(root / "registry", htpasswd=htpasswd).start()
    stack.callback(registry.stop)
    return basic, token, f"{index}/simple", registry


def _push_base(client, registry: LocalRegistry, repository: str) -> None:
    busybox = busybox_path()
    assert busybox is not None
    import_busybox(client, repository, "1", busybox)
    auth = {"username": REGISTRY_USER, "password": REGISTRY_PASSWORD}
    for chunk in client.api.push(repository, tag="1", stream=True, decode=True, auth_config=auth):
        assert "error" not in chunk, chunk
    # the build must pull it through the registry's login, not find it in the engine
    client.api.remove_image(f"{repository}:1", force=True)


def _write_projects(private: Private, base: str) -> tuple[Path, Path]:
    project = private.root / "project"
    (project / "files" / "app").mkdir(parents=True)
    (project / "files" / "app" / "hello.txt").write_text("hello\n", encoding="utf-8")
    host = private.channel_url.split("//", 1)[1]
    text = ENVIRONMENT.format(host=host, index=private.index_url)
    (project / "environment.yml").write_text(text, encoding="utf-8")
    (project / "Dockerfile").write_text(f"FROM {base}:1\nCOPY files/ /\n", encoding="utf-8")
    tokens = private.root / "token-project"
    tokens.mkdir()
    (tokens / "environment.yml").write_text(
        TOKEN_ENVIRONMENT.format(url=private.token_url), encoding="utf-8"
    )
    return project, tokens


def _with_credentials(private: Private, project: Path, tokens: Path) -> None:
    ok = private.ok

    def step(key: str, cwd: Path, *args: str) -> None:
        ok[key] = run(private, cwd, *args, credentials=True)
        assert ok[key].returncode == 0, ok[key].show()

    step("lock", project, "lock")
    step("lock-token", tokens, "lock")
    step("pin", project, "pin")
    step("build", project, "build", "-t", private.image_tag)
    commit(project)
    step("check-online", project, "check", "--online")
    step("check-online-token", tokens, "check", "--online")
    step(
        "verify-mirror",
        project,
        "verify",
        "build-record.json",
        "--mirror",
        str(private.root / "mirror"),
        "--write-mirror",
        "--json",
    )
    step("verify-rebuild", project, "verify", "build-record.json", "--rebuild", "--json")
    step(
        "drift",
        project,
        "drift",
        "--no-history",
        "--format",
        "json",
        "--report",
        str(private.root / "drift.html"),
    )
    step("inventory-registry", project, "inventory", f"docker://{private.registry}/ra-cred/base:1")


def _without_credentials(private: Private, project: Path, tokens: Path) -> None:
    fresh = private.root / "fresh"
    fresh.mkdir()
    shutil.copy(project / "environment.yml", fresh / "environment.yml")
    runs = {
        "lock": (fresh, ("lock",)),
        "lock-token": (tokens, ("lock", "--force")),
        "pin": (project, ("pin", "--update")),
        "build": (project, ("build", "-t", private.image_tag + "-denied")),
        "check-online": (project, ("check", "--online")),
        "verify": (project, ("verify", "build-record.json")),
        "verify-rebuild": (project, ("verify", "build-record.json", "--rebuild")),
        "verify-mirror": (
            project,
            (
                "verify",
                "build-record.json",
                "--mirror",
                str(private.root / "mirror-denied"),
                "--write-mirror",
            ),
        ),
        "drift": (project, ("drift", "--no-history")),
        "check-online-token": (tokens, ("check", "--online")),
        "inventory-registry": (
            project,
            ("inventory", f"docker://{private.registry}/ra-cred/base:1"),
        ),
    }
    for key, (cwd, args) in runs.items():
        private.denied[key] = run(private, cwd, *args, credentials=False)


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Private]:
    client = require_docker()
    require_tool("docker-registry")
    require_tool("htpasswd (apache2-utils)", shutil.which("htpasswd") is not None)
    require_tool("busybox (busybox-static)", busybox_path() is not None)
    root = tmp_path_factory.mktemp("private")
    (root / "docker-config").mkdir()
    with contextlib.ExitStack() as stack:
        basic, token, index, registry = _servers(root, stack)
        auth = root / "auth.json"
        auth.write_text(
            json.dumps(
                {
                    index.split("//", 1)[1].split("/", 1)[0]: f"{INDEX_USER}:{INDEX_PASSWORD}",
                    registry.host: {"username": REGISTRY_USER, "password": REGISTRY_PASSWORD},
                    token.split("//", 1)[1]: {"token": TOKEN},
                }
            ),
            encoding="utf-8",
        )
        private = Private(
            root=root,
            channel_url=basic,
            token_url=token,
            index_url=index,
            registry=registry.host,
            auth_file=auth,
            cache=root / "cache",
            bare_cache=root / "bare-cache",
            image_tag=f"ra-cred-test/{root.name.lower()}:1",
        )
        base = f"{registry.host}/ra-cred/base"
        _push_base(client, registry, base)
        project, tokens = _write_projects(private, base)
        try:
            _with_credentials(private, project, tokens)
            _without_credentials(private, project, tokens)
            yield private
        finally:
            from audit.verify import builder_images

            for image in [private.image_tag, f"{base}:1", *builder_images(private.cache)]:
                with contextlib.suppress(Exception):
                    client.api.remove_image(image, force=True)
            client.close()


def test_every_command_succeeds_with_the_credentials_given_once(private: Private) -> None:
    assert set(private.ok) >= {
        "lock",
        "pin",
        "build",
        "verify-rebuild",
        "verify-mirror",
        "check-online",
        "drift",
    }
    rebuild = json.loads(private.ok["verify-rebuild"].stdout)
    assert rebuild["verdict"] == "REPRODUCED", rebuild["reasons"]
    mirrored = json.loads(private.ok["verify-mirror"].stdout)
    assert mirrored["verdict"] == "AVAILABLE", mirrored["reasons"]
    mirror = private.root / "mirror"
    assert list((mirror / "conda").rglob("*.conda")) and list((mirror / "pip").glob("*.whl"))
    assert list((mirror / "oci" / "blobs" / "sha256").iterdir())
    drift = json.loads(private.ok["drift"].stdout)
    reasons = [(s["name"], s["status"], s["reason"]) for s in drift["sections"]]
    assert drift["summary"]["sections"]["upstream"] == "ok", reasons
    assert drift["summary"]["sections"]["images"] == "ok", reasons
    assert drift["summary"]["findings"] == 0, drift["sections"]


def test_the_lock_keeps_placeholders_and_names_the_variables(private: Private) -> None:
    lock = yaml.safe_load((private.root / "project" / "conda-lock.yml").read_text())
    (channel,) = lock["metadata"]["channels"]
    assert channel["url"].startswith("http://${CH_USER}:${CH_PASS}@127.0.0.1:")
    assert channel["used_env_vars"] == ["CH_PASS", "CH_USER"]
    managers = {p["manager"] for p in lock["package"]}
    assert managers == {"conda", "pip"}
    for package in lock["package"]:
        assert "@" not in package["url"] and "${" not in package["url"], package["url"]
    token_lock = yaml.safe_load((private.root / "token-project" / "conda-lock.yml").read_text())
    assert all("/t/" not in p["url"] for p in token_lock["package"])
    assert {p["name"] for p in token_lock["package"]} >= {"six", "python"}


def test_without_credentials_each_command_is_denied_with_a_hint(private: Private) -> None:
    assert set(private.denied) >= {
        "lock",
        "build",
        "verify-rebuild",
        "verify-mirror",
        "check-online",
        "drift",
    }
    for outcome in private.denied.values():
        assert outcome.returncode == 2, outcome.show()
        # progress lines may come first; the failure itself is one line
        lines = [line for line in outcome.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1, outcome.show()
        assert "access denied (HTTP 401)" in lines[0], outcome.show()
        assert "give credentials for" in lines[0], outcome.show()
        assert "Traceback" not in outcome.stderr
    assert "set CH_PASS, CH_USER" in private.denied["lock"].stderr
    assert "docker login" in private.denied["pin"].stderr


def test_no_password_or_token_anywhere(private: Private) -> None:
    places = [
        private.root / "project",
        private.root / "token-project",
        private.root / "fresh",
        private.root / "mirror",
        private.root / "mirror-denied",
        private.root / "drift.html",
        private.cache,
        private.bare_cache,
    ]
    assert private.cache.is_dir() and any(private.cache.rglob("*.info.json"))
    assert any((private.cache / "uv-default").iterdir())
    assert not leaks(places, private.outputs())


def test_check_flags_literal_secrets_but_not_placeholders(private: Private, tmp_path: Path) -> None:
    quiet = json.loads(
        run(
            private, private.root / "project", "check", "--format", "json", credentials=False
        ).stdout
    )
    assert not [f for f in quiet["findings"] if f["rule_id"] == "RA010"]
    leaky = tmp_path / "leaky"
    leaky.mkdir()
    host = private.channel_url.split("//", 1)[1]
    (leaky / "environment.yml").write_text(
        f"channels:\n  - http://{CHANNEL_USER}:{CHANNEL_PASSWORD}@{host}\n"
        f"  - http://{host}/t/{TOKEN}/x\ndependencies:\n  - six\n",
        encoding="utf-8",
    )
    done = run(private, leaky, "check", "--format", "json", credentials=False)
    found = [f for f in json.loads(done.stdout)["findings"] if f["rule_id"] == "RA010"]
    assert [f["line"] for f in found] == [2, 3]
    assert not leaks([], [done.stdout, done.stderr])  # the input itself holds them


def test_literal_secrets_are_used_but_never_written(private: Private, tmp_path: Path) -> None:
    """A literal `user:pass@` still works (RA010 says to move it), yet lands nowhere."""
    host = private.channel_url.split("//", 1)[1]
    index = private.index_url.replace("//", f"//{INDEX_USER}:{INDEX_PASSWORD}@", 1)
    project = tmp_path / "literal"
    project.mkdir()
    (project / "environment.yml").write_text(
        f"channels:\n  - http://{CHANNEL_USER}:{CHANNEL_PASSWORD}@{host}\n"
        "dependencies:\n  - python 3.11.*\n  - pip\n"
        f"  - pip:\n    - --index-url {index}\n    - tinyapp\nplatforms:\n  - linux-64\n",
        encoding="utf-8",
    )
    cache = tmp_path / "cache"
    env = {**private.env(credentials=False), "REPRO_AUDIT_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-m", "audit", "lock"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lock = yaml.safe_load((project / "conda-lock.yml").read_text())
    assert lock["metadata"]["channels"] == [{"url": f"http://{host}", "used_env_vars": []}]
    assert {p["name"] for p in lock["package"]} >= {"python", "tinyapp", "tinylib"}
    (project / "environment.yml").unlink()  # the input holds them, by the user's choice
    assert any(cache.rglob("*.info.json"))
    assert not leaks([project, cache], [done.stdout, done.stderr])
