"""Why an OS package differs between two images: the base image moved, or a build step.

Every deb/apk/rpm package of an image inventory names the layer it comes from
(audit.inventory.layers). Comparing two images, the layer of a changed package tells the
cause: one of the base image's layers means the base moved (both digests are named); one
a Dockerfile instruction made is that step (`Dockerfile:12 (RUN apt-get install …)`);
otherwise the cause is an "unknown layer". Pure: what is known about each image is
gathered at the edge (audit.diff.sides).

Where the base ends, best first: the base image's own layers (exact), else the lowest
layer a step of the Dockerfile made (the layers below it are inherited).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from audit.diff.classify import Change, Drift
from audit.inventory.interface import Package

if TYPE_CHECKING:  # the Dockerfile parser is imported only when a step is looked for
    from audit.dockerfile.history import StepRef

#: Managers whose changes are attributed (conda/pip findings say their step elsewhere).
ATTRIBUTED = frozenset({"deb", "apk", "rpm"})
CAUSE_BASE = "base-image"
CAUSE_STEP = "dockerfile-step"
CAUSE_UNKNOWN = "unknown-layer"
ENV_LAYER = "the locked environment layer (repro-audit build)"


@dataclass(frozen=True)
class Attribution:
    """The cause of one change: `cause` (a CAUSE_*), and `text` for people."""

    cause: str
    text: str
    #: whose layer tells it ("new", or "old" when only the old image's package does)
    side: str = "new"
    layer: str = ""
    step: str = ""  # that layer's history entry (created_by)
    old_base: str = ""
    new_base: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "cause": self.cause,
            "text": self.text,
            "side": self.side,
            "layer": self.layer,
            "step": self.step,
            "old_base": self.old_base,
            "new_base": self.new_base,
        }


@dataclass(frozen=True)
class ImageSide:
    """What is known about one image of a comparison."""

    #: the image's layers (diff_ids, lowest first) and each one's history entry
    layers: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    base_digest: str = ""
    #: how many of `layers` are the base image's, when the base's own layers were read
    base_layers: int | None = None
    #: the Dockerfile the image was built from (text), and the name findings show
    dockerfile: str | None = None
    dockerfile_name: str = "Dockerfile"
    env_layer: str = ""  # the environment layer `repro-audit build` added
    #: False for a lockfile or prefix: nothing to attribute
    is_image: bool = False


STEP, BASE, UNKNOWN = "step", "base", "unknown"


class _View:
    """One side, read once: its Dockerfile's instructions and where its base ends."""

    def __init__(self, side: ImageSide) -> None:
        self.side = side
        self.items = _instructions(side.dockerfile, side.dockerfile_name)
        self._found: dict[str, StepRef | None] = {}
        self.exact = side.base_layers is not None
        self.boundary = side.base_layers if self.exact else self._estimated_boundary()

    def step(self, created_by: str) -> StepRef | None:
        if created_by not in self._found:
            from audit.dockerfile.history import find_step

            self._found[created_by] = find_step(created_by, self.items, self.side.dockerfile_name)
        return self._found[created_by]

    def _estimated_boundary(self) -> int | None:
        """Where the base ends, from the Dockerfile: the lowest layer one of its steps made,
        and the layer count less one layer per RUN/COPY/ADD; the lower of the two (what
        neither can place is an unknown layer rather than the base's)."""
        if not self.items:
            return None
        made = [i for i, step in enumerate(self.side.steps) if step and self.step(step)]
        env = self.side.env_layer
        appended = bool(env) and self.side.layers[-1:] == (env,)
        if env and env in self.side.layers:
            made.append(self.side.layers.index(env))
        estimates = [min(made)] if made else []
        steps = _layer_steps(self.side.dockerfile or "", self.side.dockerfile_name, self.items)
        count = len(self.side.layers) - steps - appended
        if self.side.layers and count >= 0:
            estimates.append(count)
        return min(estimates) if estimates else None

    def index(self, package: Package) -> int | None:
        if package.layer in self.side.layers:
            return self.side.layers.index(package.layer)
        number = package.layer.removeprefix("layer ")
        return int(number) if number.isdigit() else None

    def base_ids(self) -> tuple[str, ...] | None:
        if self.boundary is None or not all(self.side.layers[: self.boundary]):
            return None
        return self.side.layers[: self.boundary]

    def role(self, package: Package) -> tuple[str, str]:
        """(STEP, "Dockerfile:12 (RUN …)") | (BASE, "") | (UNKNOWN, "")."""
        if not package.layer:
            return UNKNOWN, ""
        if self.side.env_layer and package.layer == self.side.env_layer:
            return STEP, ENV_LAYER
        index = self.index(package)
        inherited = self.boundary is not None and index is not None and index < self.boundary
        if self.exact and inherited:
            return BASE, ""
        found = self.step(package.created_by) if package.created_by else None
        if found is not None:
            return STEP, str(found)
        return (BASE, "") if inherited else (UNKNOWN, "")


def _layer_steps(text: str, name: str, items: list[Any]) -> int:
    """How many layers the image's stage makes (RUN, COPY, ADD), through `FROM <stage>`."""
    from audit.core.errors import InputError
    from audit.dockerfile.parser import parse_dockerfile

    last = max((i.stage for i in items), default=-1)
    chain = [last]
    try:
        stages = parse_dockerfile(text, name, lenient=True).stages
    except InputError:
        stages = []
    while chain[-1] < len(stages) and stages[chain[-1]].base_stage is not None:
        base = stages[chain[-1]].base_stage
        if base is None or base in chain:
            break
        chain.append(base)
    return sum(1 for i in items if i.stage in chain and i.keyword in _LAYER_KEYWORDS)


_LAYER_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})


def _instructions(text: str | None, name: str) -> list[Any]:
    if text is None:
        return []
    from audit.core.errors import InputError
    from audit.dockerfile.parser import instructions

    try:
        return instructions(text, name)
    except InputError:
        return []


def base_moved(old: _View, new: _View) -> bool | None:
    """Did the base image change? None when neither layers nor digests tell."""
    a, b = old.base_ids(), new.base_ids()
    if old.exact and new.exact and a is not None and b is not None:
        return a != b
    if old.side.base_digest and new.side.base_digest:
        return old.side.base_digest != new.side.base_digest
    if a is not None and b is not None:
        return a != b
    return None


def _short(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}:{hexdigest[:12]}" if hexdigest else digest[:19]


def _base_label(view: _View) -> str:
    if view.side.base_digest:
        return _short(view.side.base_digest)
    ids = view.base_ids()
    if ids:
        return f"layers up to {_short(ids[-1])}"
    return "unknown digest"


def attribute_change(change: Change, old: _View, new: _View) -> Attribution:
    """The cause of one deb/apk change between the images `old` and `new`.

    The new image's package tells (the old one's for a removal), unless it is the base's
    and the base did not move: then the old image's step made the difference.
    """
    moved = base_moved(old, new)
    sides = [("new", new, change.new), ("old", old, change.old)]
    sides = [(name, view, package) for name, view, package in sides if package is not None]
    for number, (name, view, package) in enumerate(sides):
        kind, text = view.role(package)
        if kind == STEP:
            shown = text if name == "new" else f"{text} of the old image"
            return Attribution(CAUSE_STEP, shown, name, package.layer, package.created_by)
        if kind == BASE and moved is not False:
            text = f"base image moved ({_base_label(old)} → {_base_label(new)})"
            return Attribution(
                CAUSE_BASE,
                text,
                name,
                package.layer,
                package.created_by,
                old.side.base_digest,
                new.side.base_digest,
            )
        if kind != BASE or number > 0:
            break  # an unknown layer, or nothing more to ask
    name, _, package = sides[0]
    detail = " ".join(package.created_by.split())[:80]
    text = (
        f"unknown layer ({_short(package.layer)}: {detail})"
        if package.layer and detail
        else "unknown layer"
    )
    return Attribution(CAUSE_UNKNOWN, text, name, package.layer, package.created_by)


def attribute_drift(drift: Drift, old: ImageSide, new: ImageSide) -> Drift:
    """`drift` with every deb/apk change attributed, when both sides are images."""
    if not (old.is_image and new.is_image):
        return drift
    if not any(c.manager in ATTRIBUTED for c in drift.changes):
        return drift
    a, b = _View(old), _View(new)
    platforms = []
    for platform in drift.platforms:
        changes = tuple(
            replace(c, attribution=attribute_change(c, a, b)) if c.manager in ATTRIBUTED else c
            for c in platform.changes
        )
        platforms.append(replace(platform, changes=changes))
    return replace(drift, platforms=tuple(platforms))
