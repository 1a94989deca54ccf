"""OS packages compared between two images, each change attributed to the base image moving
or to a Dockerfile step (audit.diff.attribution): the logic on constructed inventories, and
`repro-audit diff` on real `docker save` archives written here (no Docker needed)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from inventory.inventory_images import docker_save, layer_tar
from support.cli import repro_audit

from audit.diff.attribution import (
    CAUSE_BASE,
    CAUSE_STEP,
    CAUSE_UNKNOWN,
    ImageSide,
    attribute_drift,
)
from audit.diff.classify import diff_many
from audit.diff.formats.dispatch import render_diff
from audit.diff.sides import image_side
from audit.inventory.interface import ImageMeta, Inventory, Package

BASE_A = "sha256:" + "a" * 64
BASE_B = "sha256:" + "b" * 64
BASE_STEP = "/bin/sh -c #(nop) ADD file:5d2e in / "
CURL_A = "RUN /bin/sh -c apt-get install -y curl=7.88.1-10 # buildkit"
CURL_B = "RUN /bin/sh -c apt-get install -y curl=8.5.0-1 # buildkit"


def _diff_id(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _image(
    layers: Sequence[tuple[str, str]],
    packages: Sequence[tuple[str, str, str, int]],
    base: str = "",
    name: str = "img",
) -> Inventory:
    """An image inventory: layers (diff_id, created_by), packages (manager, name, version,
    index of their layer)."""
    built = [
        Package(m, n, v, layer=layers[i][0], created_by=layers[i][1]) for m, n, v, i in packages
    ]
    meta = ImageMeta(
        tuple(d for d, _ in layers), tuple(s for _, s in layers), "reg.example/base", base
    )
    return Inventory(f"docker-daemon:{name}", "linux-64", tuple(built), meta)


def _side(inventory: Inventory, dockerfile: str | None = None, **extra) -> ImageSide:  # type: ignore[no-untyped-def]
    meta = inventory.image
    assert meta is not None
    fields = {
        "layers": meta.layers,
        "steps": meta.steps,
        "base_digest": meta.base_digest,
        "dockerfile": dockerfile,
        "is_image": True,
        **extra,
    }
    return ImageSide(**fields)


def _causes(old: Inventory, new: Inventory, a: ImageSide, b: ImageSide) -> dict[str, tuple]:
    drift = attribute_drift(diff_many([old], [new]), a, b)
    out = {}
    for change in drift.changes:
        attribution = change.attribution
        out[change.name] = (
            (change.kind, attribution.cause, attribution.text) if attribution else (change.kind,)
        )
    return out


def _layers(name: str, step: str) -> list[tuple[str, str]]:
    return [(_diff_id(f"base {name}"), BASE_STEP), (_diff_id(f"curl {name}"), step)]


def _sample(name: str, layers: list[tuple[str, str]], versions: Sequence[str]) -> Inventory:
    """tzdata and libc6 in the base layer, curl and python in the step layer."""
    names = ("tzdata", "libc6", "curl", "python")
    managers = ("deb", "deb", "deb", "conda")
    where = (0, 0, 1, 1)
    return _image(layers, list(zip(managers, names, versions, where, strict=True)), name=name)


OLD_LAYERS = _layers("a", CURL_A)
NEW_LAYERS = _layers("b", CURL_B)
OLD = _sample("old", OLD_LAYERS, ("2024a-0", "2.36-9", "7.88.1-10", "3.11.9"))
NEW = _sample("new", NEW_LAYERS, ("2024b-0", "2.36-9", "8.5.0-1", "3.11.10"))
OLD_DOCKERFILE = f"FROM reg.example/base@{BASE_A}\nENV A=1\nRUN apt-get install -y curl=7.88.1-10\n"
NEW_DOCKERFILE = f"FROM reg.example/base@{BASE_B}\nENV A=1\nRUN apt-get install -y curl=8.5.0-1\n"


def test_base_move_and_step_are_told_apart() -> None:
    causes = _causes(
        OLD,
        NEW,
        _side(OLD, OLD_DOCKERFILE, base_digest=BASE_A),
        _side(NEW, NEW_DOCKERFILE, base_digest=BASE_B),
    )
    assert causes == {
        "tzdata": (
            "upgraded",
            CAUSE_BASE,
            "base image moved (sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb)",
        ),
        "curl": ("upgraded", CAUSE_STEP, "Dockerfile:3 (RUN apt-get install -y curl=8.5.0-1)"),
        "python": ("upgraded",),  # conda/pip changes keep their own output
    }


def test_exact_base_layers_without_a_dockerfile() -> None:
    # the base's own layers say where it ends; no Dockerfile: the step layer is unknown
    causes = _causes(OLD, NEW, _side(OLD, base_layers=1), _side(NEW, base_layers=1))
    assert causes["tzdata"][1:] == (
        CAUSE_BASE,
        f"base image moved (layers up to sha256:{OLD_LAYERS[0][0][7:19]} → "
        f"layers up to sha256:{NEW_LAYERS[0][0][7:19]})",
    )
    kind, cause, text = causes["curl"]
    assert cause == CAUSE_UNKNOWN
    assert text == f"unknown layer (sha256:{NEW_LAYERS[1][0][7:19]}: {CURL_B})"


def test_nothing_known_is_an_unknown_layer() -> None:
    bare_old = ImageSide(layers=(), is_image=True)
    causes = _causes(OLD, NEW, bare_old, ImageSide(is_image=True))
    assert {name: c[1] for name, c in causes.items() if len(c) > 1} == {
        "tzdata": CAUSE_UNKNOWN,
        "curl": CAUSE_UNKNOWN,
    }


def test_the_dockerfile_tells_where_the_base_ends() -> None:
    # no digests, no base layers: the lowest layer a step made is where the base ends,
    # and the base layers' diff_ids differ, so the base moved
    causes = _causes(OLD, NEW, _side(OLD, OLD_DOCKERFILE), _side(NEW, NEW_DOCKERFILE))
    assert causes["tzdata"][1] == CAUSE_BASE
    assert causes["curl"][1] == CAUSE_STEP


def test_an_unmatched_layer_above_a_step_is_not_the_base() -> None:
    layers = [*NEW_LAYERS, (_diff_id("other"), "/bin/sh -c echo deb >> /var/lib/dpkg/status")]
    old = _image(OLD_LAYERS, [("deb", "tzdata", "2024a-0", 0)])
    new = _image(layers, [("deb", "tzdata", "2024b-0", 2)])
    causes = _causes(old, new, _side(old, OLD_DOCKERFILE), _side(new, NEW_DOCKERFILE))
    assert causes["tzdata"][1] == CAUSE_UNKNOWN
    assert "echo deb >> /var/lib/dpkg/status" in causes["tzdata"][2]


def test_same_base_removed_or_reverted_by_a_step_of_the_old_image() -> None:
    # the same base on both sides: curl installed by the old image's step is gone, and
    # tzdata, which the old image's step had upgraded, is back at the base's version
    step = "RUN /bin/sh -c apt-get install -y curl=7.88.1-10 tzdata=2025a-0 # buildkit"
    old = _image(
        [OLD_LAYERS[0], (_diff_id("step"), step)],
        [("deb", "tzdata", "2025a-0", 1), ("deb", "curl", "7.88.1-10", 1)],
    )
    new = _image([OLD_LAYERS[0]], [("deb", "tzdata", "2024a-0", 0)])
    dockerfile = (
        f"FROM reg.example/base@{BASE_A}\nRUN apt-get install -y curl=7.88.1-10 tzdata=2025a-0\n"
    )
    same = f"FROM reg.example/base@{BASE_A}\n"
    causes = _causes(
        old,
        new,
        _side(old, dockerfile, base_digest=BASE_A),
        _side(new, same, base_digest=BASE_A),
    )
    expected = (
        "Dockerfile:2 (RUN apt-get install -y curl=7.88.1-10 tzdata=2025a-0) of the old image"
    )
    assert causes == {
        "curl": ("removed", CAUSE_STEP, expected),
        "tzdata": ("downgraded", CAUSE_STEP, expected),
    }


def test_the_environment_layer_of_repro_audit_build() -> None:
    env = _diff_id("env")
    old = _image([OLD_LAYERS[0], (env, "")], [("deb", "ca-certificates", "1", 1)])
    new = _image([OLD_LAYERS[0], (env, "")], [])
    causes = _causes(old, new, _side(old, env_layer=env), _side(new, env_layer=env))
    assert causes["ca-certificates"][1:] == (
        CAUSE_STEP,
        "the locked environment layer (repro-audit build) of the old image",
    )


def test_not_two_images_nothing_is_attributed() -> None:
    lock = Inventory("conda-lock.yml", "linux-64", (Package("conda", "python", "3.11.9"),))
    drift = diff_many([lock], [NEW])
    out = attribute_drift(drift, ImageSide(), _side(NEW, NEW_DOCKERFILE))
    assert [c.attribution for c in out.changes] == [None] * len(drift.changes)
    assert all("attribution" not in c.to_json() for c in out.changes)


def test_formats_show_the_cause_only_where_there_is_one() -> None:
    drift = attribute_drift(
        diff_many([OLD], [NEW]),
        _side(OLD, OLD_DOCKERFILE, base_digest=BASE_A),
        _side(NEW, NEW_DOCKERFILE, base_digest=BASE_B),
    )
    document = json.loads(render_diff(drift, "json"))
    changes = {c["name"]: c for c in document["platforms"][0]["changes"]}
    assert changes["tzdata"]["attribution"] == {
        "cause": CAUSE_BASE,
        "text": "base image moved (sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb)",
        "side": "new",
        "layer": NEW_LAYERS[0][0],
        "step": BASE_STEP,
        "old_base": BASE_A,
        "new_base": BASE_B,
    }
    assert "attribution" not in changes["python"]
    assert render_diff(drift, "json") == render_diff(drift, "json")  # deterministic
    markdown = render_diff(drift, "markdown")
    deb = markdown.split("**deb**", 1)[1]
    assert "| kind | package | old | new | details | cause |" in deb
    assert "Dockerfile:3 (RUN apt-get install -y curl=8.5.0-1)" in deb
    conda = markdown.split("**conda**", 1)[1].split("**deb**", 1)[0]
    assert "cause" not in conda
    table = render_diff(drift, "table")
    assert "base image moved (sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb)" in table
    html = render_diff(drift, "html")
    assert "<th>cause</th>" in html and "Dockerfile:3 (RUN apt-get install" in html


# --------------------------------------------------------------------------- real archives

STATUS = "Package: {name}\nStatus: install ok installed\nVersion: {version}\n\n"


def _status(*packages: tuple[str, str]) -> bytes:
    return "".join(STATUS.format(name=n, version=v) for n, v in packages).encode()


def _archive(path: Path, base: bytes, step: bytes, created_by: str, digest: str) -> Path:
    layers = [layer_tar({"var/lib/dpkg/status": base}), layer_tar({"var/lib/dpkg/status": step})]
    history = [{"created_by": BASE_STEP}, {"created_by": created_by}]
    labels = {
        "org.opencontainers.image.base.name": "reg.example/base:12",
        "org.opencontainers.image.base.digest": digest,
    }
    path.write_bytes(docker_save(layers, history=history, labels=labels))
    return path


@pytest.fixture
def archives(tmp_path: Path) -> tuple[Path, Path, Path]:
    base_a = _status(("libc6", "2.36-9"), ("tzdata", "2024a-0"))
    base_b = _status(("libc6", "2.36-9"), ("tzdata", "2024b-0"))
    old = _archive(
        tmp_path / "old.tar",
        base_a,
        base_a + _status(("curl", "7.88.1-10")),
        "/bin/sh -c apt-get install -y curl=7.88.1-10",
        BASE_A,
    )
    new = _archive(
        tmp_path / "new.tar",
        base_b,
        base_b + _status(("curl", "8.5.0-1"), ("jq", "1.6-2.1")),
        "/bin/sh -c apt-get install -y curl=8.5.0-1 jq=1.6-2.1",
        BASE_B,
    )
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        f"FROM reg.example/base:12@{BASE_B}\nRUN apt-get install -y curl=8.5.0-1 jq=1.6-2.1\n"
    )
    return old, new, dockerfile


def test_diff_of_two_saved_images(archives: tuple[Path, Path, Path]) -> None:
    old, new, dockerfile = archives
    done = repro_audit(
        "diff", f"docker-archive:{old}", f"docker-archive:{new}", "--dockerfile", str(dockerfile),
        "--format", "json",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    changes = {
        c["name"]: (c["kind"], c["attribution"]["text"])
        for c in json.loads(done.stdout)["platforms"][0]["changes"]
    }
    step = "Dockerfile:2 (RUN apt-get install -y curl=8.5.0-1 jq=1.6-2.1)"
    assert changes == {
        "tzdata": ("upgraded", "base image moved (sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb)"),
        "curl": ("upgraded", step),
        "jq": ("added", step),
    }
    # without the Dockerfile (and no base in an engine) nothing tells where the base ends
    table = repro_audit("diff", f"docker-archive:{old}", f"docker-archive:{new}")
    assert table.returncode == 1
    assert "base image moved" not in table.stdout
    assert table.stdout.count("unknown layer (sha256:") == 3
    assert "apt-get install -y curl=8.5.0-1 jq=1.6-2.1)" in table.stdout


def test_a_missing_dockerfile_is_bad_input(archives: tuple[Path, Path, Path]) -> None:
    old, new, dockerfile = archives
    missing = dockerfile.parent / "nope.Dockerfile"
    done = repro_audit(
        "diff", f"docker-archive:{old}", f"docker-archive:{new}", "--old-dockerfile", str(missing)
    )
    assert done.returncode == 2
    assert done.stderr == f"error: {missing}: no such Dockerfile\n"


def test_image_side_reads_a_build_record(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(NEW_DOCKERFILE)
    env = _diff_id("env")
    inventory = _image([*NEW_LAYERS, (env, "")], [("deb", "curl", "8.5.0-1", 1)])
    record = {
        "kind": "repro-audit/build-record",
        "inputs": {"dockerfile": {"path": "Dockerfile"}},
        "outputs": {
            "env_layer_diff_id": env,
            "layers": [d for d, _ in NEW_LAYERS] + [env],
            "labels": {"org.opencontainers.image.base.digest": BASE_B},
        },
        "inventory": {**inventory.to_json(), "image": None},  # a record from before `image`
    }
    path = tmp_path / "build-record.json"
    path.write_text(json.dumps(record))
    side = image_side(str(path), Inventory.from_json(record["inventory"]), engine=False)
    assert side.is_image and side.base_digest == BASE_B and side.env_layer == env
    assert side.dockerfile == NEW_DOCKERFILE
    assert side.layers == (*(d for d, _ in NEW_LAYERS), env)
    assert side.steps == ("", CURL_B, "")  # known from the packages of each layer


def test_drift_os_packages_vs_the_build_record(
    archives: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """`drift --record R --image I`: the recorded image's OS packages against today's."""
    import subprocess

    from audit.inventory import read_inventory

    old, new, dockerfile = archives
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "Dockerfile").write_text(dockerfile.read_text())
    (repo / "old.Dockerfile").write_text(
        f"FROM reg.example/base:12@{BASE_A}\nRUN apt-get install -y curl=7.88.1-10\n"
    )
    inventory = read_inventory(f"docker-archive:{old}")
    assert inventory.image is not None and inventory.image.base_digest == BASE_A
    record = {
        "schema": 1,
        "kind": "repro-audit/build-record",
        "inputs": {"dockerfile": {"path": "old.Dockerfile"}},
        "outputs": {"layers": list(inventory.image.layers)},
        "inventory": inventory.to_json(),
    }
    path = repo / "build-record.json"
    path.write_text(json.dumps(record))
    args = (
        "drift", str(repo), "--record", str(path), "--image", f"docker-archive:{new}",
        "--no-history", "--no-upstream", "--no-images",
    )  # fmt: skip
    done = repro_audit(*args, "--format", "json")
    assert done.returncode == 1, done.stderr
    (section,) = [s for s in json.loads(done.stdout)["sections"] if s["name"] == "image_vs_record"]
    found = {(f["subject"], f["kind"], f["cause"], f["origin"]) for f in section["findings"]}
    step = "Dockerfile:2 (RUN apt-get install -y curl=8.5.0-1 jq=1.6-2.1)"
    assert found == {
        ("tzdata", "upgraded", "base image moved (sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb)", ""),
        ("curl", "upgraded", "installed outside the lock", step),
        ("jq", "added", "installed outside the lock", step),
    }
    assert section["data"]["system_packages"] == {"record": 3, "image": 4}
    assert section["data"]["record"] == "build-record.json"  # no machine path
    text = repro_audit(*args).stdout
    assert f"-> 1.6-2.1 (installed outside the lock by {step})" in text
    assert "OS packages vs build record: 3 finding(s)" in text
