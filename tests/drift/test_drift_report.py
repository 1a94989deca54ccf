"""`repro-audit drift` and `diff` end to end on a real git project (see conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from drift_helpers import Project, cli, commit, git, write_env

from audit.core.schemas import DRIFT_REPORT, validate
from audit.inventory import Inventory, read_inventory


def findings(document: dict, section: str) -> list[dict]:
    return next(s for s in document["sections"] if s["name"] == section)["findings"]


@pytest.fixture(scope="module")
def report(project: Project, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("drift-report")
    done = project.run(
        "drift",
        "--report",
        str(out / "drift.json"),
        "--report",
        str(out / "drift.md"),
        "--report",
        str(out / "drift.html"),
    )
    assert done.returncode == 1, done.stderr
    assert "wrote" in done.stderr
    document = json.loads((out / "drift.json").read_text())
    document["_dir"] = str(out)
    return document


def test_history_walk_and_causes(project: Project, report: dict) -> None:
    history = report["history"]
    shas = [r["sha"] for r in history["revisions"]]
    c = project.commits
    assert shas == [c["initial"], c["spec"], c["corrupt"], c["tool"], c["upstream"]]
    by_sha = {r["sha"]: r for r in history["revisions"]}
    assert by_sha[c["initial"]]["created"] is True
    assert by_sha[c["spec"]]["cause"] == "spec edit" and by_sha[c["spec"]]["spec_changed"]
    assert by_sha[c["corrupt"]]["error"] and "not valid YAML" in by_sha[c["corrupt"]]["error"]
    assert by_sha[c["tool"]]["cause"] == "lock-format/tool change"
    assert by_sha[c["tool"]]["dockerfile_changed"] is True
    assert by_sha[c["upstream"]]["cause"] == "new upstream release"
    rows = {
        (f["revision"], f["kind"], f["subject"], f["cause"]) for f in findings(report, "history")
    }
    assert rows == {
        (c["spec"][:12], "added", "linux-only-tool", "spec edit"),
        (c["corrupt"][:12], "corrupt-lock", "conda-lock.yml", "lock-format/tool change"),
        (c["tool"][:12], "lock-rewritten", "conda-lock.yml", "lock-format/tool change"),
        (c["upstream"][:12], "rebuilt", "libzlib", "new upstream release"),
    }
    # newest first, as `git log` reads (not by sha): the report's first rows are the latest
    order = [f["revision"] for f in findings(report, "history")]
    newest_first = [c[k][:12] for k in ("upstream", "tool", "corrupt", "spec")]
    assert list(dict.fromkeys(order)) == newest_first
    text = (Path(report["_dir"]) / "drift.md").read_text()
    assert text.index(c["upstream"][:12]) < text.index(c["spec"][:12])
    timelines = {t["name"]: t["versions"] for t in history["timelines"]}
    assert timelines["linux-only-tool"] == ["", "1.0.0", "1.0.0", "1.0.0", "1.0.0"]
    assert timelines["libzlib"][-1] == "1.3.1-hb9d3cd8_1"


def test_upstream_section(report: dict) -> None:
    upstream = findings(report, "upstream")
    assert {(f["kind"], f["subject"], f["new"].split("-")[0]) for f in upstream} == {
        ("upgraded", "numpy", "2.1.0"),
        ("upgraded", "six", "1.17.0"),
        ("upgraded", "tzdata", "2025a"),
    }
    assert {f["cause"] for f in upstream} == {"new upstream release"}


def test_base_image_section(project: Project, report: dict) -> None:
    (moved,) = findings(report, "images")
    assert moved["kind"] == "image-moved" and moved["cause"] == "base image moved"
    assert moved["subject"] == project.image
    assert moved["old"] != moved["new"] and "Dockerfile" in moved["detail"]
    assert report["summary"]["sections"]["image_vs_lock"] == "skipped"
    assert report["exit_code"] == 1


def test_markdown_and_json_are_deterministic(
    project: Project, report: dict, tmp_path: Path
) -> None:
    done = project.run("drift", "--format", "json")
    again = json.loads(done.stdout)
    report = {k: v for k, v in report.items() if k != "_dir"}
    assert again == report
    validate(again, DRIFT_REPORT, "drift.json")  # the published schema holds for it
    markdown = (Path(report_dir(project, tmp_path)) / "drift.md").read_text()
    assert "| Base images | drift |" in markdown
    assert "| new upstream release |" in markdown
    assert "absent → 1.0.0" in markdown


def report_dir(project: Project, tmp_path: Path) -> Path:
    done = project.run("drift", "--report", str(tmp_path / "drift.md"), "--no-upstream")
    assert done.returncode == 1
    return tmp_path


def test_since_and_n(project: Project) -> None:
    c = project.commits
    done = project.run(
        "drift", "--since", c["tool"], "--no-upstream", "--no-images", "--format", "json"
    )
    history = json.loads(done.stdout)["history"]
    assert [r["sha"] for r in history["revisions"]] == [c["tool"], c["upstream"]]
    done = project.run("drift", "-n", "2", "--no-upstream", "--no-images", "--format", "json")
    history = json.loads(done.stdout)["history"]
    # the commit before the window is the baseline
    assert [r["sha"] for r in history["revisions"]] == [c["corrupt"], c["tool"], c["upstream"]]
    assert history["revisions"][0]["error"]


def test_image_vs_lock_with_a_record(project: Project, tmp_path: Path) -> None:
    lock = read_inventory(str(project.root / "conda-lock.yml"), "linux-64")
    from audit.inventory import Inventory, Package

    packages = (
        *lock.packages,
        Package("pip", "requests", "2.32.3", installer="pip", location="/opt/env/x"),
        Package("deb", "libc6", "2.36-9"),
    )
    record = {"inventory": Inventory("image", "linux-64", packages).to_json()}
    path = tmp_path / "build-record.json"
    path.write_text(json.dumps(record))
    done = project.run(
        "drift",
        "--record",
        str(path),
        "--no-upstream",
        "--no-images",
        "--no-history",
        "--format",
        "json",
    )
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    (outside,) = findings(document, "image_vs_lock")
    assert (outside["kind"], outside["subject"], outside["manager"]) == (
        "outside-lock",
        "requests",
        "pip",
    )
    assert outside["cause"] == "installed outside the lock"
    section = next(s for s in document["sections"] if s["name"] == "image_vs_lock")
    assert section["data"]["system_packages"] == 1
    # an image that matches the lock is clean
    record = {"inventory": Inventory("image", "linux-64", lock.packages).to_json()}
    path.write_text(json.dumps(record))
    clean = project.run(
        "drift", "--record", str(path), "--no-upstream", "--no-images", "--no-history"
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_image_built_from_another_lock(project: Project, tmp_path: Path) -> None:
    """The record's lock sha256 names another lock: that is the cause, not "outside the lock"."""
    import dataclasses
    import hashlib

    lock_path = project.root / "conda-lock.yml"
    lock = read_inventory(str(lock_path), "linux-64")
    older = [dataclasses.replace(p, version="0.1") if p.name == "six" else p for p in lock.packages]
    inventory = Inventory("image", "linux-64", tuple(older)).to_json()
    old_sha = hashlib.sha256(b"an older conda-lock.yml").hexdigest()
    path = tmp_path / "build-record.json"
    args = ("drift", "--record", str(path), "--no-upstream", "--no-images", "--no-history")

    path.write_text(
        json.dumps({"inventory": inventory, "inputs": {"lockfile": {"sha256": old_sha}}})
    )
    done = project.run(*args, "--format", "json")
    assert done.returncode == 1, done.stderr
    (changed,) = findings(json.loads(done.stdout), "image_vs_lock")
    assert changed["subject"] == "six"
    assert changed["cause"] == f"image built from another lock (sha256:{old_sha})"
    text = project.run(*args).stdout
    assert f"(image built from another lock (sha256:{old_sha}))" in text
    assert "installed outside the lock" not in text

    # built from today's lock: then the difference was installed outside it
    today = hashlib.sha256(lock_path.read_bytes()).hexdigest()
    labels = {"io.repro-audit.lock.sha256": f"sha256:{today}"}
    path.write_text(json.dumps({"inventory": inventory, "outputs": {"labels": labels}}))
    (changed,) = findings(
        json.loads(project.run(*args, "--format", "json").stdout), "image_vs_lock"
    )
    assert changed["cause"] == "installed outside the lock"


def test_bad_input(project: Project, tmp_path: Path) -> None:
    unknown = project.run("drift", "--since", "no-such-rev", "--no-upstream", "--no-images")
    assert unknown.returncode == 2 and "unknown git revision" in unknown.stderr
    missing = project.run("drift", "--lockfile", "nope.yml", "--no-upstream", "--no-images")
    assert missing.returncode == 2 and "never committed" in missing.stderr
    outside = cli(["drift"], tmp_path, project.cache)
    assert outside.returncode == 2 and "not inside a git repository" in outside.stderr
    bad = project.run("drift", "--report", str(tmp_path / "x.pdf"))
    assert bad.returncode == 2 and ".html" in bad.stderr
    assert "Traceback" not in unknown.stderr + missing.stderr + outside.stderr + bad.stderr


def test_unreachable_channel_and_registry(tmp_path: Path, project: Project) -> None:
    """Upstream and images unavailable: the report is still written; exit 3 if nothing else."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_env(repo / "environment.yml", "http://127.0.0.1:9/nochannel", ["six"])
    (repo / "conda-lock.yml").write_bytes((project.root / "conda-lock.yml").read_bytes())
    digest = "sha256:" + "0" * 64
    (repo / "image-lock.json").write_text(
        json.dumps(
            {
                "version": 1,
                "images": {
                    f"127.0.0.1:9/base:1@{digest}": {
                        "registry": "127.0.0.1:9",
                        "repository": "base",
                        "tag": "1",
                        "digest": digest,
                    }
                },
            }
        )
    )
    commit(repo, "lock", 1_736_000_000)
    args = ["drift", "--no-history", "--report", str(tmp_path / "r.html"), "--timeout", "2"]
    done = cli(args, repo, project.cache)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "UNAVAILABLE" in done.stdout and (tmp_path / "r.html").is_file()
    html = (tmp_path / "r.html").read_text()
    assert "Unavailable" in html and "channel" in html
    # with the history computed, the report is ordinary: exit 0 (nothing drifted)
    done = cli(["drift", "--timeout", "2"], repo, project.cache)
    assert done.returncode == 0, done.stdout + done.stderr


# --------------------------------------------------------------------------- diff CLI


def test_diff_git_revisions(project: Project) -> None:
    c = project.commits
    old, new = f"git:{c['initial']}:conda-lock.yml", f"git:{c['upstream']}:conda-lock.yml"
    done = project.run("diff", old, new, "--format", "json")
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    changes = {(x["name"], x["kind"]) for x in document["platforms"][0]["changes"]}
    assert changes == {("linux-only-tool", "added"), ("libzlib", "rebuilt")}
    only_hash = project.run("diff", old, new, "--fail-on", "hash-changed,downgraded")
    assert only_hash.returncode == 0 and "rebuilt" in only_hash.stdout
    none = project.run("diff", old, new, "--fail-on", "none", "--format", "markdown")
    assert none.returncode == 0 and "| + added | linux-only-tool |" in none.stdout
    same = project.run("diff", old, old)
    assert same.returncode == 0 and "no changes" in same.stdout
    html = project.run("diff", old, new, "--format", "html", "-o", str(project.cache / "d.html"))
    assert html.returncode == 1 and "k-rebuilt" in (project.cache / "d.html").read_text()


def test_diff_bad_input(project: Project, tmp_path: Path) -> None:
    c = project.commits
    corrupt = project.run("diff", f"git:{c['corrupt']}:conda-lock.yml", "conda-lock.yml")
    assert corrupt.returncode == 2 and "not valid YAML" in corrupt.stderr
    absent = project.run("diff", f"git:{c['initial']}:nope.yml", "conda-lock.yml")
    assert absent.returncode == 2 and "does not exist at revision" in absent.stderr
    unknown = project.run("diff", "git:nope:conda-lock.yml", "conda-lock.yml")
    assert unknown.returncode == 2 and "unknown git revision" in unknown.stderr
    lock = read_inventory(str(project.root / "conda-lock.yml"), "linux-64")
    other = lock.__class__("osx", "osx-arm64", lock.packages)
    (tmp_path / "a.json").write_text(json.dumps(lock.to_json()))
    (tmp_path / "b.json").write_text(json.dumps(other.to_json()))
    plat = project.run("diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert plat.returncode == 2 and "-p" in plat.stderr
    forced = project.run(
        "diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "-p", "linux-64"
    )
    assert forced.returncode == 0, forced.stderr
    kind = project.run(
        "diff", str(tmp_path / "a.json"), str(tmp_path / "a.json"), "--fail-on", "exploded"
    )
    assert kind.returncode == 2 and "unknown kind" in kind.stderr


def test_history_reports_a_base_image_repinned_without_a_lock_change(tmp_path: Path) -> None:
    """A commit that only re-pins a base tag is drift too: cause "base image moved"."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "conda-lock.yml").write_text(
        "version: 1\nmetadata:\n  content_hash: {}\n  channels: []\n  platforms:\n"
        "  - linux-64\n  sources: []\npackage:\n- name: six\n  version: 1.16.0\n"
        "  manager: conda\n  platform: linux-64\n  dependencies: {}\n"
        "  url: https://example.invalid/noarch/six-1.16.0-py_0.conda\n"
        "  hash:\n    sha256: " + "a" * 64 + "\n  category: main\n  optional: false\n"
    )

    def pin(digest: str) -> None:
        entry = {
            "registry": "registry.example",
            "repository": "team/base",
            "tag": "1",
            "digest": digest,
            "media_type": "application/vnd.oci.image.manifest.v1+json",
            "platforms": [],
            "files": ["Dockerfile"],
        }
        key = f"registry.example/team/base:1@{digest}"
        (repo / "image-lock.json").write_text(json.dumps({"version": 1, "images": {key: entry}}))
        (repo / "Dockerfile").write_text(f"FROM registry.example/team/base:1@{digest}\n")

    old, new = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    pin(old)
    commit(repo, "initial", 1_700_000_000)
    pin(new)
    moved = commit(repo, "re-pin the base", 1_700_003_600)
    done = cli(
        ["drift", "--no-upstream", "--no-images", "--format", "json"], repo, tmp_path / "cache"
    )
    assert done.returncode == 1, done.stderr
    found = findings(json.loads(done.stdout), "history")
    assert [
        (f["kind"], f["cause"], f["subject"], f["old"], f["new"], f["revision"]) for f in found
    ] == [("image-moved", "base image moved", "registry.example/team/base:1", old, new, moved[:12])]
