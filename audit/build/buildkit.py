"""Run one BuildKit build through the Docker CLI: context tar on stdin, plain progress.

`docker buildx build` (or `DOCKER_BUILDKIT=1 docker build` for a client with BuildKit
built in) reads the normalised context tar from stdin (`-`), writes the image id to
`--iidfile`, and prints `--progress=plain` lines on stderr: `#5 [2/3] RUN …` opens a step,
`#5 0.412 output` is its output, `#5 ERROR: …` its failure. Those lines are the progress
display; on a failure the step and its last output lines make the one-line error (exit 2).
A buildx builder (docker-container, kubernetes, remote) needs `--load` to hand the image
to the engine.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from audit.build.builders import Builder
from audit.core.errors import InfrastructureError, InputError

Progress = Callable[[str, str], None]
_STEP_RE = re.compile(r"^#(\d+) (\[[^\]]*\].*)$")
_ERROR_RE = re.compile(r"^#(\d+) ERROR: (.*)$")
_OUTPUT_RE = re.compile(r"^#(\d+) \d+\.\d+ (.*)$")
#: Output lines kept per step for the error message.
TAIL = 5
#: Phrases that mean the builder, not the Dockerfile, failed (exit 3).
UNREACHABLE = (
    "cannot connect to the docker daemon",
    "error during connect",
    "connection refused",
    "no such host",
    "context deadline exceeded",
    "failed to dial",
    "transport is closing",
    "i/o timeout",
)


@dataclass
class PlainProgress:
    """Reads BuildKit's plain progress: step names, their last output lines, the error."""

    say: Progress
    steps: dict[str, str] = field(default_factory=dict)
    tails: dict[str, collections.deque] = field(default_factory=dict)
    failed: str | None = None
    error: str = ""
    other: collections.deque = field(default_factory=lambda: collections.deque(maxlen=TAIL))

    def feed(self, line: str) -> None:
        line = line.rstrip("\n")
        if not line.strip():
            return
        if match := _ERROR_RE.match(line):
            self.failed, self.error = match.group(1), match.group(2).strip()
        elif match := _STEP_RE.match(line):
            if match.group(1) not in self.steps:
                self.steps[match.group(1)] = match.group(2).strip()
                self.say("building", _short(match.group(2).strip()))
        elif match := _OUTPUT_RE.match(line):
            tail = self.tails.setdefault(match.group(1), collections.deque(maxlen=TAIL))
            tail.append(match.group(2).rstrip())
            self.say("output", _short(match.group(2).rstrip()))
        elif not line.startswith("#"):
            self.other.append(line.strip())

    def failure(self, returncode: int) -> InputError | InfrastructureError:
        """The error of a failed build: the step and its last output lines."""
        text = " ".join(self.other).lower()
        if self.failed is None and any(phrase in text for phrase in UNREACHABLE):
            return InfrastructureError(
                f"the builder did not answer: {' '.join(self.other)[:300]}",
                hint="check the engine or the buildx builder (`docker buildx ls`)",
            )
        if self.failed is not None:
            step = self.steps.get(self.failed, f"step #{self.failed}")
            last = " | ".join(self.tails.get(self.failed, ())) or "no output"
            return InputError(
                f"docker build failed at {step}: {self.error}",
                hint=f"last output: {last}",
            )
        detail = " ".join(self.other)[:300] or f"exit status {returncode}"
        return InputError(f"docker build failed: {detail}")


def _short(text: str) -> str:
    return text if len(text) <= 100 else text[:97] + "..."


def command(
    builder: Builder, dockerfile: str, iidfile: Path, platform: str | None, no_cache: bool
) -> tuple[list[str], dict[str, str]]:
    """The CLI invocation and its environment for `builder`."""
    assert builder.client is not None
    if builder.kind == "buildx":
        args = [builder.client, "buildx", "build", "--load"]
        if builder.name:
            args += ["--builder", builder.name]
        env = {}
    else:
        args, env = [builder.client, "build"], {"DOCKER_BUILDKIT": "1"}
    args += ["--progress=plain", "--iidfile", str(iidfile), "-f", dockerfile]
    if platform:
        args += ["--platform", platform]
    if no_cache:
        args.append("--no-cache")
    return [*args, "-"], env


def _pump(source: IO[bytes], sink: IO[bytes]) -> None:
    """Copy the context tar into the CLI's stdin (a thread: stderr is read meanwhile).

    A cancelled build kills the client and closes the context under this thread: the
    read or write then fails with ValueError (a closed file) as well as OSError (a broken
    pipe), and either only means there is nothing left to copy.
    """
    with contextlib.suppress(OSError, ValueError):
        while chunk := source.read(1 << 20):
            sink.write(chunk)
    with contextlib.suppress(OSError, ValueError):
        sink.close()


def buildkit_build(
    builder: Builder,
    context: IO[bytes],
    dockerfile: str,
    say: Progress,
    *,
    platform: str | None = None,
    no_cache: bool = False,
) -> str:
    """Build the context tar with BuildKit; the image id (sha256:…)."""
    say("building", f"{dockerfile} with BuildKit")  # before its first step line arrives
    with tempfile.TemporaryDirectory(prefix="repro-audit-bk-") as tmp:
        iidfile = Path(tmp) / "iid"
        args, env = command(builder, dockerfile, iidfile, platform, no_cache)
        progress = PlainProgress(say)
        try:
            process = subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={**os.environ, **env},
            )
        except OSError as exc:
            raise InfrastructureError(f"cannot run {Path(args[0]).name}: {exc}") from None
        assert process.stdin is not None and process.stderr is not None
        feeder = threading.Thread(target=_pump, args=(context, process.stdin), daemon=True)
        feeder.start()
        try:
            for raw in process.stderr:
                progress.feed(raw.decode("utf-8", "replace"))
            returncode = process.wait()
        except BaseException:  # interrupted (SIGTERM, Ctrl-C): the client must not outlive us
            process.kill()
            process.wait()
            feeder.join(timeout=5)  # it ends on the broken pipe, before the context closes
            raise
        feeder.join()
        if returncode != 0:
            raise progress.failure(returncode)
        image_id = iidfile.read_text(encoding="utf-8").strip() if iidfile.is_file() else ""
    if not image_id.startswith("sha256:"):
        raise InputError("docker build ended without an image id")
    return image_id


def build_user_image(
    builder: Builder,
    client: Any,
    tar: IO[bytes],
    inner: str,
    say: Progress,
    platform: str,
    no_cache: bool,
) -> str:
    """The user's Dockerfile built by `builder` (BuildKit or the classic builder)."""
    if builder.buildkit:
        try:
            return buildkit_build(builder, tar, inner, say, platform=platform, no_cache=no_cache)
        except InputError as exc:
            # a cut connection reads as a failed build ("unexpected EOF", no image id):
            # when the engine no longer answers, it is the builder's fault (exit 3)
            if client.answers():
                raise
            raise InfrastructureError(
                f"the builder stopped answering during the build ({exc.message})",
                hint="check the engine or the buildx builder (`docker buildx ls`)",
            ) from None
    from audit.build.classic import classic_build

    return classic_build(client, tar, say, dockerfile=inner, platform=platform, nocache=no_cache)
