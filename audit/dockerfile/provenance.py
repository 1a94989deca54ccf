"""Which build step put a package into an image: `Dockerfile:12 (RUN pip install numpy)`.

An image inventory records, per package, its layer and that layer's history entry
(audit.inventory.layers). With the Dockerfile at hand (named by the build record, else
the project's `Dockerfile`) the entry is mapped back to its instruction; the layer
`repro-audit build` added is "the locked environment"; a layer no instruction of the
Dockerfile made is the base image's (or a step that is not in this Dockerfile).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.dockerfile.history import find_in_text


@dataclass(frozen=True)
class Provenance:
    dockerfile_text: str | None = None
    dockerfile_name: str = "Dockerfile"
    env_layer: str = ""  # diff_id of the environment layer `repro-audit build` wrote

    def origin(self, package: Any) -> str:
        """`Dockerfile:12 (RUN pip install numpy)`, or the layer and its step; "" unknown.

        `package` is an inventory Package (its `layer` and `created_by` are read).
        """
        if not package.layer:
            return ""
        if self.env_layer and package.layer == self.env_layer:
            return "the locked environment layer (repro-audit build)"
        if self.dockerfile_text is not None:
            step = find_in_text(package.created_by, self.dockerfile_text, self.dockerfile_name)
            if step is not None:
                return str(step)
        short = package.layer.split(":", 1)[-1][:12]
        step = " ".join(package.created_by.split())[:80]
        layer = f"layer {short}: {step}" if step else f"layer {short}"
        if self.dockerfile_text is None:
            return layer
        return f"the base image or a step not in the Dockerfile ({layer})"


def load_provenance(source: str | None, root: Path) -> Provenance:
    """What maps an image's layers to steps: a build record's Dockerfile, else root/Dockerfile."""
    record = build_record(source)
    if record is not None:
        inputs = record.get("inputs") or {}
        outputs = record.get("outputs") or {}
        env_layer = str(outputs.get("env_layer_diff_id") or "")
        dockerfile = inputs.get("dockerfile") or {}
        path = dockerfile.get("path")
        if dockerfile.get("generated") or not path:
            return Provenance(None, "Dockerfile", env_layer)
        base = Path(str(source)).parent
        for candidate in (Path(path), base / path, root / path, root / Path(path).name):
            if candidate.is_file():
                return Provenance(_read(candidate), _name(candidate, root), env_layer)
        return Provenance(None, Path(path).name, env_layer)
    default = root / "Dockerfile"
    if default.is_file():
        return Provenance(_read(default), "Dockerfile")
    return Provenance()


def build_record(source: str | None) -> dict | None:
    """The build record `source` names (a `*.json` of kind repro-audit/build-record), or None."""
    if not source or not source.endswith(".json") or not Path(source).is_file():
        return None
    try:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and data.get("kind") == "repro-audit/build-record":
        return data
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _name(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name
