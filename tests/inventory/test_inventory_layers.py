"""Layer attribution: which layer (and history step) put each package into an image."""

from __future__ import annotations

import hashlib
import io
import json

from inventory_images import conda_meta, dist_metadata, docker_save, layer_tar

from audit.dockerfile.history import find_in_text, normalize
from audit.dockerfile.provenance import Provenance
from audit.inventory.image import read_archive
from audit.inventory.layers import layer_steps

STATUS_1 = b"""Package: libc6
Status: install ok installed
Version: 2.36-9

Package: tzdata
Status: install ok installed
Version: 2024a-0
"""
# layer 2 rewrites dpkg's status: libc6 unchanged, tzdata upgraded, curl installed
STATUS_2 = STATUS_1.replace(b"2024a-0", b"2024b-0") + (
    b"\nPackage: curl\nStatus: install ok installed\nVersion: 7.88.1-10\n"
)
HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:123 in / "},
    {"created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True},
    {"created_by": "/bin/sh -c apt-get update && apt-get install -y curl"},
    {"created_by": "RUN /bin/sh -c pip install numpy==1.26.4 # buildkit"},
]
DOCKERFILE = """FROM debian:12
ENV A=1
RUN apt-get update \\
 && apt-get install -y curl
RUN pip install numpy==1.26.4
"""


def _layers() -> list[bytes]:
    layers = [
        {"var/lib/dpkg/status": STATUS_1,
         "opt/conda/conda-meta/python-3.11.9-0.json": conda_meta("python", "3.11.9")},
        {"var/lib/dpkg/status": STATUS_2},
        {"usr/lib/python3/site-packages/numpy-1.26.4.dist-info/METADATA":
            dist_metadata("numpy", "1.26.4"),
         "usr/lib/python3/site-packages/numpy-1.26.4.dist-info/INSTALLER": b"pip\n"},
    ]  # fmt: skip
    return [layer_tar(files) for files in layers]


LAYERS = _layers()
DIFF_IDS = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in LAYERS]


def _image() -> bytes:
    return docker_save(LAYERS, history=HISTORY)


def test_every_package_knows_its_layer_and_step() -> None:
    inventory = read_archive(io.BytesIO(_image()), "test-image")  # type: ignore[arg-type]
    by = {p.key: (p.layer, p.created_by) for p in inventory.packages}
    assert by[("deb", "libc6")] == (DIFF_IDS[0], HISTORY[0]["created_by"])  # not re-installed
    assert by[("deb", "tzdata")] == (DIFF_IDS[1], HISTORY[2]["created_by"])  # upgraded there
    assert by[("deb", "curl")] == (DIFF_IDS[1], HISTORY[2]["created_by"])
    assert by[("conda", "python")][0] == DIFF_IDS[0]
    assert by[("pip", "numpy")] == (DIFF_IDS[2], HISTORY[3]["created_by"])
    # the JSON of an inventory carries it, and reads back
    data = json.loads(json.dumps(inventory.to_json()))
    assert {p["name"]: p["layer"] for p in data["packages"]}["curl"] == DIFF_IDS[1]


def test_history_that_does_not_pair_with_layers_says_nothing() -> None:
    assert layer_steps({"rootfs": {"diff_ids": DIFF_IDS}, "history": HISTORY[:1]}, 3) == [
        (d, "") for d in DIFF_IDS
    ]


def test_history_entries_map_back_to_dockerfile_lines() -> None:
    assert normalize(HISTORY[3]["created_by"]) == ("RUN", "pip install numpy==1.26.4")
    assert normalize("|2 A=1 B=2 /bin/sh -c make") == ("RUN", "make")
    assert str(find_in_text(HISTORY[2]["created_by"], DOCKERFILE, "Dockerfile")) == (
        "Dockerfile:3 (RUN apt-get update && apt-get install -y curl)"
    )
    assert find_in_text(HISTORY[3]["created_by"], DOCKERFILE, "Dockerfile").line == 5
    assert find_in_text(HISTORY[0]["created_by"], DOCKERFILE, "Dockerfile") is None


def test_provenance_names_step_environment_or_layer() -> None:
    inventory = read_archive(io.BytesIO(_image()), "test-image")  # type: ignore[arg-type]
    by = inventory.by_key()
    known = Provenance(DOCKERFILE, "Dockerfile", env_layer=DIFF_IDS[0])
    assert known.origin(by[("pip", "numpy")]) == "Dockerfile:5 (RUN pip install numpy==1.26.4)"
    assert known.origin(by[("conda", "python")]).startswith("the locked environment layer")
    other = Provenance(DOCKERFILE, "Dockerfile")
    assert other.origin(by[("deb", "libc6")]).startswith(
        f"the base image or a step not in the Dockerfile (layer {DIFF_IDS[0][7:19]}: "
    )
    assert Provenance().origin(by[("deb", "curl")]).startswith(f"layer {DIFF_IDS[1][7:19]}: ")
