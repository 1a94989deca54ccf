"""The human report of a verify result."""

from __future__ import annotations

from audit.verify.verdict import (
    Verdict,
    VerifyResult,
)


def render_text(result: VerifyResult) -> list[str]:
    """The human report: the verdict first, then why, then what was checked."""
    head = result.verdict.value
    if result.verdict is Verdict.REPRODUCED and result.image_identical:
        head += " (bit-identical image)"
    lines = [f"verdict  {head}"]
    lines += [f"  {reason}" for reason in result.reasons]
    mirrored = [p for p in result.problems if p.mirrored]
    if mirrored:
        lines.append("gone upstream, verified in the mirror:")
        lines += [f"  {p.line()}" for p in mirrored]
    if result.rebuild is not None:
        r = result.rebuild
        lines.append(f"rebuilt  {r.rebuilt.get('image_id')} in {r.seconds:.1f}s")
        lines.append(f"env      {r.rebuilt.get('env_layer_diff_id')}")
    checked = result.checked
    lines.append(
        f"checked  {checked.get('artifacts', 0)} artifacts, "
        f"{checked.get('base_images', 0)} base images"
        + (" (downloaded and hashed)" if result.deep else "")
        + f" in {result.timings.get('static_seconds', 0):.2f}s"
    )
    lines += [f"note     {note}" for note in result.notes]
    return lines
