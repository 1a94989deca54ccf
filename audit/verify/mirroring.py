"""`--write-mirror`: save the record's artifacts and base images into a mirror."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from audit.artifacts import Artifact
from audit.core.errors import (
    AccessDeniedError,
    ReproAuditError,
)
from audit.verify.inputs import Inputs
from audit.verify.options import Progress, VerifyOptions
from audit.verify.static import verified_size


def write_mirror(
    inputs: Inputs,
    artifacts: list[Artifact],
    repodata: list[dict[str, Any]],
    refs: list[Any],
    options: VerifyOptions,
    cache_dir: Path,
    say: Progress,
) -> list[str]:
    """Fill the mirror (verified fetch for artifacts, registry API for images); notes."""
    from audit.artifacts import fetch_one
    from audit.registry.client import RegistryClient
    from audit.verify.mirror import Mirror

    assert options.mirror is not None
    mirror = Mirror.open(options.mirror, create=True)
    notes: list[str] = []

    def one(artifact: Artifact) -> str | None:
        if mirror.has_artifact(artifact):
            good, _ = verified_size(mirror.artifact_path(artifact), artifact.sha256)
            if good:
                mirror.artifacts[artifact.sha256.lower()] = mirror.artifact_rel(artifact)
                return None
        try:
            path, _ = fetch_one(artifact, cache_dir, timeout=options.timeout)
        except AccessDeniedError:
            raise  # no credentials: exit 2 saying how to give them, not a silent gap
        except ReproAuditError as exc:
            return f"not mirrored: {artifact.label}: {exc.one_line()}"
        mirror.add_artifact(artifact, path)
        return None

    say("mirroring", f"{len(artifacts)} artifacts into {options.mirror}")
    with ThreadPoolExecutor(max_workers=8) as pool:
        notes += [n for n in pool.map(one, artifacts) if n]
    sizes = {}
    for artifact in artifacts:
        path = mirror.artifact_path(artifact)
        if path.is_file():
            sizes[artifact.file_name] = path.stat().st_size
    for record in repodata:
        if record.get("fn") in sizes:
            record["size"] = sizes[record["fn"]]
    mirror.write_repodata([r for r in repodata if r.get("fn") in sizes])
    client = RegistryClient(insecure=options.insecure, timeout=options.timeout)
    for ref in refs:
        say("mirroring", ref.canonical())
        try:
            mirror.add_image(client, ref, inputs.platform)
        except AccessDeniedError:
            raise
        except ReproAuditError as exc:
            notes.append(f"not mirrored: {ref.canonical()}: {exc.one_line()}")
    mirror.save()
    return notes
