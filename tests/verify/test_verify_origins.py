"""verify --rebuild: a DRIFTED change names the build step that installed the package."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from audit.diff.classify import Change, PlatformDrift
from audit.inventory.interface import Package
from audit.verify.rebuild import step_origins
from audit.verify.verdict import Rebuild, Verdict, decide

DOCKERFILE = "FROM base@sha256:" + "0" * 64 + "\nRUN pip install numpy\n"
ENV_LAYER = "sha256:" + "e" * 64


def test_changed_package_is_attributed_to_its_dockerfile_line(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    old = Package("pip", "numpy", "1.26.4")
    new = Package("pip", "numpy", "2.0.0", layer="sha256:" + "a" * 64,
                  created_by="/bin/sh -c pip install numpy")  # fmt: skip
    env = Package("conda", "six", "1.17.0", layer=ENV_LAYER)
    changes = (
        Change("upgraded", "pip", "numpy", old, new),
        Change("added", "conda", "six", None, env),
    )
    drift = PlatformDrift("linux-64", "old", "new", changes, 1, 2)
    inputs = SimpleNamespace(dockerfile=tmp_path / "Dockerfile")
    origins = step_origins(drift, inputs, {"env_layer_diff_id": ENV_LAYER})
    assert origins[("pip", "numpy")] == "Dockerfile:2 (RUN pip install numpy)"
    assert origins[("conda", "six")] == "the locked environment layer (repro-audit build)"
    outputs = {"env_layer_diff_id": ENV_LAYER}
    verdict, why = decide([], Rebuild(outputs, outputs, drift, 1.0, origins=origins))
    assert verdict is Verdict.DRIFTED
    assert any(
        line.endswith("1.26.4 -> 2.0.0 (by Dockerfile:2 (RUN pip install numpy))") for line in why
    ), why


def test_os_package_change_carries_its_step_in_json(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE + "RUN apt-get install -y curl\n")
    layer = "sha256:" + "c" * 64
    old = Package("deb", "curl", "7.88.1-10")
    new = Package("deb", "curl", "7.88.1-10+deb12u5", layer=layer,
                  created_by="/bin/sh -c apt-get install -y curl")  # fmt: skip
    drift = PlatformDrift(
        "linux-64", "old", "new", (Change("upgraded", "deb", "curl", old, new),), 1, 1
    )
    inputs = SimpleNamespace(dockerfile=tmp_path / "Dockerfile")
    origins = step_origins(drift, inputs, {"env_layer_diff_id": ENV_LAYER})
    outputs = {"env_layer_diff_id": ENV_LAYER}
    data = Rebuild(outputs, outputs, drift, 1.0, origins=origins).to_json()
    (change,) = data["inventory_changes"]
    assert (change["name"], change["origin"]) == (
        "curl",
        "Dockerfile:3 (RUN apt-get install -y curl)",
    )
