"""The `repro-audit` command line: parse arguments, call a stage, render, exit.

Heavy libraries (conda-lock, rattler, docker) are imported inside the commands that need
them, so `--version`, `check` and `lock --check` start fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from audit import __version__
from audit.errors import EXIT_INPUT, ReproAuditError

app = typer.Typer(
    name="repro-audit",
    help="Prove that conda + Docker environments reproduce.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# Options several commands share: one definition each, so they read and behave alike.
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
CacheDirOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Repodata, package and artifact cache.")
]
InsecureRegistryOpt = Annotated[
    list[str] | None,
    typer.Option("--insecure-registry", help="Use plain http for this registry host."),
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Seconds per channel or registry request.")
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"repro-audit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Lock, pin, build, inventory, diff and verify conda + Docker environments."""


def emit_json(data: Any) -> None:
    """Machine output: sorted keys, one document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def stderr_console() -> Any:
    """A rich console on stderr for progress and human messages (stdout stays parseable)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


# --------------------------------------------------------------------------- lock


@app.command()
def lock(
    file: Annotated[
        list[Path] | None,
        typer.Option("-f", "--file", help="environment.yml to lock (repeatable, merged)."),
    ] = None,
    platform: Annotated[
        list[str] | None,
        typer.Option("-p", "--platform", help="Target platform (repeatable)."),
    ] = None,
    lockfile: Annotated[
        Path, typer.Option("--lockfile", help="Where to write conda-lock.yml.")
    ] = Path("conda-lock.yml"),
    explicit: Annotated[
        bool,
        typer.Option("--explicit/--no-explicit", help="Also write conda-<platform>.lock files."),
    ] = True,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if the lock is stale or missing; never write.")
    ] = False,
    update: Annotated[
        list[str] | None,
        typer.Option("--update", help="Re-solve these packages, keep the rest (repeatable)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Re-solve even when the inputs are unchanged (new upstream)."),
    ] = False,
    channel: Annotated[
        list[str] | None,
        typer.Option("-c", "--channel", help="Override the file's channels (repeatable)."),
    ] = None,
    virtual_packages: Annotated[
        Path | None,
        typer.Option(
            "--virtual-packages", help="Virtual packages per platform (conda-lock format)."
        ),
    ] = None,
    with_cuda: Annotated[
        str | None,
        typer.Option("--with-cuda", help="Add __cuda of this version to linux and win platforms."),
    ] = None,
    pypi_index_url: Annotated[
        str | None,
        typer.Option("--pypi-index-url", help="Index for the pip: section (default PyPI)."),
    ] = None,
    auth_file: Annotated[
        Path | None,
        typer.Option(
            "--auth-file", help="JSON {host-or-channel: 'user:pass' | token} for channels."
        ),
    ] = None,
    cache_dir: CacheDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Resolve environment.yml into conda-lock.yml and explicit per-platform lockfiles."""
    from audit.lock import LockOptions, run_lock
    from audit.render_lock import render_lock_result

    options = LockOptions(
        files=list(file or [Path("environment.yml")]),
        platforms=list(platform or []),
        lockfile=lockfile,
        explicit=explicit,
        check=check,
        update=list(update or []),
        force=force,
        channels=list(channel or []),
        virtual_packages=virtual_packages,
        with_cuda=with_cuda,
        pypi_index_url=pypi_index_url,
        auth_file=auth_file,
        cache_dir=cache_dir,
        progress=not as_json and sys.stderr.isatty(),
    )
    result = run_lock(options)
    if as_json:
        emit_json(result.to_json())
    else:
        sys.stderr.write(render_lock_result(result))
    raise typer.Exit(result.exit_code)


# --------------------------------------------------------------------------- pin


def _insecure_registries(values: list[str] | None) -> frozenset[str]:
    import os

    from_env = os.environ.get("REPRO_AUDIT_INSECURE_REGISTRIES", "")
    hosts = [h.strip() for h in from_env.replace(",", " ").split() if h.strip()]
    return frozenset(hosts + list(values or []))


@app.command()
def pin(
    file: Annotated[
        list[Path] | None,
        typer.Option("-f", "--file", help="Dockerfile to pin (repeatable; default ./Dockerfile)."),
    ] = None,
    compose: Annotated[
        list[Path] | None,
        typer.Option("--compose", help="Compose file whose image: fields to pin (repeatable)."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit 1 on unpinned or lock-mismatched images; never write."),
    ] = False,
    update: Annotated[
        bool, typer.Option("--update", help="Re-resolve pinned tags and move their digests.")
    ] = False,
    insecure_registry: InsecureRegistryOpt = None,
    timeout: TimeoutOpt = 15.0,
    retries: Annotated[
        int, typer.Option("--retries", help="Retries on 429/5xx and connection failures.")
    ] = 4,
    as_json: JsonOpt = False,
) -> None:
    """Pin every image a build pulls to a digest and record it in image-lock.json."""
    from audit.images.pin import PinOptions, render_text, run_pin

    dockerfiles = list(file or [])
    if not dockerfiles and not compose:
        dockerfiles = [Path("Dockerfile")]
    options = PinOptions(
        dockerfiles=dockerfiles,
        compose_files=list(compose or []),
        check=check,
        update=update,
        insecure=_insecure_registries(insecure_registry),
        timeout=timeout,
        retries=retries,
    )
    result = run_pin(options)
    if as_json:
        emit_json(result.to_json())
    else:
        for line in render_text(result):
            typer.echo(line)
        for path in result.written:
            sys.stderr.write(f"wrote {path}\n")
    raise typer.Exit(result.exit_code)


# --------------------------------------------------------------------------- inventory


@app.command()
def inventory(
    source: Annotated[
        str,
        typer.Argument(
            help="conda-lock.yml | explicit .lock | pixi.lock | prefix dir | build record | "
            "docker-daemon:NAME:TAG | docker-archive:FILE.tar | docker://REF | git:REV:path"
        ),
    ],
    platform: Annotated[
        str | None,
        typer.Option("-p", "--platform", help="Platform of a multi-platform lock or image."),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table | json | cyclonedx")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to FILE instead of stdout.")
    ] = None,
) -> None:
    """List every package an environment contains (lockfile, prefix, image, record, git)."""
    from audit.errors import InputError
    from audit.inventory import read_inventory

    formats = ("table", "json", "cyclonedx")
    if output_format not in formats:
        raise InputError(f"--format must be one of {', '.join(formats)}, not {output_format!r}")
    result = read_inventory(source, platform)
    if output_format == "json":
        text = json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n"
    elif output_format == "cyclonedx":
        from audit.formats.cyclonedx import format_cyclonedx

        text = format_cyclonedx(result)
    else:
        from audit.formats.inventory_table import format_table

        text = format_table(result, color=output is None and sys.stdout.isatty())
    if output is None:
        sys.stdout.write(text)
    else:
        from audit.fsutil import atomic_write_text

        atomic_write_text(output, text)
    raise typer.Exit(0)


# --------------------------------------------------------------------------- build


@app.command()
def build(
    lockfile: Annotated[
        Path, typer.Option("--lockfile", help="conda-lock.yml to build from.")
    ] = Path("conda-lock.yml"),
    file: Annotated[
        Path | None,
        typer.Option("-f", "--file", help="Pinned Dockerfile (default ./Dockerfile)."),
    ] = None,
    context: Annotated[
        Path | None,
        typer.Option("--context", help="Build context directory (default: the Dockerfile's)."),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option("--base", help="No Dockerfile: start FROM this IMAGE@sha256:… instead."),
    ] = None,
    tag: Annotated[str | None, typer.Option("-t", "--tag", help="Tag for the image.")] = None,
    platform: Annotated[
        str | None,
        typer.Option("--platform", help="linux/amd64 or linux/arm64 (default: the engine's)."),
    ] = None,
    prefix: Annotated[
        str | None,
        typer.Option("--prefix", help="In-image prefix (default /opt/conda/envs/<name>)."),
    ] = None,
    record: Annotated[
        Path, typer.Option("--record", help="Where to write the build record (JSON).")
    ] = Path("build-record.json"),
    push: Annotated[
        bool, typer.Option("--push", help="Push the tag and record the repo digest.")
    ] = False,
    allow_unpinned: Annotated[
        bool,
        typer.Option("--allow-unpinned", help="Build from unpinned images (recorded)."),
    ] = False,
    environment: Annotated[
        Path | None,
        typer.Option("--environment", help="environment.yml to hash (default: the lock's)."),
    ] = None,
    cache_dir: CacheDirOpt = None,
    reproducible_image: Annotated[
        bool,
        typer.Option(
            "--reproducible-image/--no-reproducible-image",
            help="Normalise the image config (SOURCE_DATE_EPOCH) so rebuilds keep the image id.",
        ),
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Build an image whose conda environment is exactly the lock, and record the build."""
    from audit.build import BuildOptions, iter_progress_lines, run_build

    console = stderr_console()

    def progress(phase: str, message: str) -> None:
        from rich.markup import escape

        line = f"[bold]{phase:>10}[/bold] {escape(message)}"
        console.print(line, highlight=False, soft_wrap=True)

    options = BuildOptions(
        lockfile=lockfile,
        dockerfile=file,
        context=context,
        base=base,
        tag=tag,
        platform=platform,
        prefix=prefix,
        record=record,
        push=push,
        allow_unpinned=allow_unpinned,
        cache_dir=cache_dir,
        environment=environment,
        progress=progress,
        reproducible_image=reproducible_image,
    )
    result = run_build(options)
    if as_json:
        emit_json(result.to_json())
    else:
        for line in iter_progress_lines(result):
            typer.echo(line)
    raise typer.Exit(0)


# --------------------------------------------------------------------------- check


@app.command()
def check(
    path: Annotated[
        Path,
        typer.Argument(help="Project directory (environment.yml, conda-lock.yml, Dockerfiles)."),
    ] = Path("."),
    output_format: Annotated[
        str, typer.Option("--format", help="human | github | sarif | junit | json")
    ] = "human",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the report to FILE.")
    ] = None,
    online: Annotated[
        bool,
        typer.Option(
            "--online", help="Also check each locked artifact and image digest still exists."
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds per request with --online.")
    ] = 10.0,
    insecure_registry: InsecureRegistryOpt = None,
) -> None:
    """Pre-merge checks, offline: lock in sync, images pinned, no secrets, team policy."""
    from audit.check import CheckOptions, run_check
    from audit.errors import InputError

    formats = ("human", "github", "sarif", "junit", "json")
    if output_format not in formats:
        raise InputError(f"--format must be one of {', '.join(formats)}, not {output_format!r}")
    options = CheckOptions(
        root=path,
        online=online,
        timeout=timeout,
        insecure=_insecure_registries(insecure_registry) if online else frozenset(),
    )
    result = run_check(options)
    if output_format == "human":
        from audit.formats.check_human import format_human

        text = format_human(result, color=output is None and sys.stdout.isatty())
    elif output_format == "github":
        from audit.formats.github import format_github

        text = format_github(result)
    elif output_format == "sarif":
        from audit.formats.sarif import format_sarif

        text = format_sarif(result)
    elif output_format == "junit":
        from audit.formats.junit import format_junit

        text = format_junit(result)
    else:
        from audit.formats.check_json import format_check_json

        text = format_check_json(result)
    if output is None:
        sys.stdout.write(text)
    else:
        from audit.fsutil import atomic_write_text

        atomic_write_text(output, text)
    raise typer.Exit(result.exit_code)


# --------------------------------------------------------------------------- diff and drift


@app.command()
def diff(
    old: Annotated[
        str,
        typer.Argument(
            help="Old side: lockfile | git:REV:path | prefix dir | build record | "
            "docker-daemon:NAME:TAG | docker-archive:FILE.tar | docker://REF"
        ),
    ],
    new: Annotated[str, typer.Argument(help="New side (any source OLD accepts).")],
    platform: Annotated[
        str | None,
        typer.Option("-p", "--platform", help="Compare this platform only (default: all common)."),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table | markdown | json | html")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to FILE instead of stdout.")
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Kinds that exit 1, comma-separated: added, removed, upgraded, downgraded, "
            "rebuilt, channel-changed, hash-changed, moved, metadata-changed, any, none.",
        ),
    ] = "any",
) -> None:
    """Classify every package change between two inventories (exit 1 on selected kinds)."""
    from audit.drift import diff_many, parse_fail_on
    from audit.formats.dispatch_drift import DIFF_FORMATS, render_diff
    from audit.inventory import normalize_platform, open_source

    if output_format not in DIFF_FORMATS:
        from audit.errors import InputError

        raise InputError(
            f"--format must be one of {', '.join(DIFF_FORMATS)}, not {output_format!r}"
        )
    kinds = parse_fail_on(fail_on)
    wanted = normalize_platform(platform)
    result = diff_many(open_source(old, platform).read(), open_source(new, platform).read(), wanted)
    text = render_diff(result, output_format, color=output is None and sys.stdout.isatty())
    if output is None:
        sys.stdout.write(text)
    else:
        from audit.fsutil import atomic_write_text

        atomic_write_text(output, text)
    raise typer.Exit(1 if result.selected(kinds) else 0)


@app.command()
def drift(
    path: Annotated[Path, typer.Argument(help="Repository checkout (default: .).")] = Path("."),
    lockfile: Annotated[
        Path, typer.Option("--lockfile", help="The lock, relative to PATH.")
    ] = Path("conda-lock.yml"),
    file: Annotated[
        list[Path] | None,
        typer.Option("-f", "--file", help="environment.yml, relative to PATH (repeatable)."),
    ] = None,
    limit: Annotated[int, typer.Option("-n", help="Last N revisions that touched the lock.")] = 20,
    since: Annotated[
        str | None, typer.Option("--since", help="Revisions after REV instead of -n.")
    ] = None,
    image: Annotated[
        str | None,
        typer.Option("--image", help="Image to check: docker-daemon:, docker-archive:, docker://."),
    ] = None,
    record: Annotated[
        Path | None, typer.Option("--record", help="Build record to check against the lock.")
    ] = None,
    platform: Annotated[
        str | None, typer.Option("-p", "--platform", help="Platform of the image and chart.")
    ] = None,
    no_history: Annotated[
        bool, typer.Option("--no-history", help="Skip the lock history.")
    ] = False,
    no_upstream: Annotated[
        bool, typer.Option("--no-upstream", help="Skip re-solving environment.yml today.")
    ] = False,
    no_images: Annotated[
        bool, typer.Option("--no-images", help="Skip checking pinned base image tags.")
    ] = False,
    report: Annotated[
        list[Path] | None,
        typer.Option("--report", help="Write a report: FILE.html | FILE.md | FILE.json."),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="stdout: text | markdown | json | html")
    ] = "text",
    insecure_registry: InsecureRegistryOpt = None,
    timeout: TimeoutOpt = 15.0,
    cache_dir: CacheDirOpt = None,
) -> None:
    """The periodic drift report: lock history, upstream, base images, image vs lock."""
    from audit.drift_report import DriftOptions, run_drift
    from audit.errors import InputError
    from audit.formats.dispatch_drift import DRIFT_FORMATS, render_drift, report_format

    if output_format not in DRIFT_FORMATS:
        raise InputError(
            f"--format must be one of {', '.join(DRIFT_FORMATS)}, not {output_format!r}"
        )
    if image and record:
        raise InputError("--image and --record cannot be combined")
    if since is not None and limit != 20:
        raise InputError("-n and --since cannot be combined")
    reports = [(p, report_format(p)) for p in report or []]
    options = DriftOptions(
        path=path,
        lockfile=lockfile,
        files=list(file or []),
        limit=limit,
        since=since,
        image=image or (str(record) if record else None),
        platform=platform,
        history=not no_history,
        upstream=not no_upstream,
        images=not no_images,
        cache_dir=cache_dir,
        insecure=_insecure_registries(insecure_registry),
        timeout=timeout,
    )
    result = run_drift(options)
    from audit.fsutil import atomic_write_text

    for target, fmt in reports:
        atomic_write_text(target, render_drift(result, fmt))
        sys.stderr.write(f"wrote {target}\n")
    sys.stdout.write(render_drift(result, output_format))
    raise typer.Exit(result.exit_code)


# --------------------------------------------------------------------------- verify


@app.command()
def verify(
    record: Annotated[
        str,
        typer.Argument(
            help="Build record (build-record.json), or git:REV[:path] for the record, lock and "
            "pinned Dockerfile committed at a revision."
        ),
    ],
    rebuild: Annotated[
        bool,
        typer.Option("--rebuild", help="Rebuild from the recorded inputs and compare (Docker)."),
    ] = False,
    mirror: Annotated[
        Path | None,
        typer.Option("--mirror", help="Mirror DIR to fall back on (conda channel + OCI layout)."),
    ] = None,
    write_mirror: Annotated[
        bool,
        typer.Option(
            "--write-mirror", help="Create/refresh --mirror DIR with every input, then verify."
        ),
    ] = False,
    deep: Annotated[
        bool, typer.Option("--deep", help="Download and hash every artifact (not only HEAD).")
    ] = False,
    keep_image: Annotated[
        bool, typer.Option("--keep-image", help="Keep the rebuilt image in Docker.")
    ] = False,
    insecure_registry: InsecureRegistryOpt = None,
    timeout: TimeoutOpt = 15.0,
    cache_dir: CacheDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Does a recorded build still reproduce? AVAILABLE/REPRODUCED exit 0, others 1."""
    from audit.verify import VerifyOptions, render_text, run_verify

    console = stderr_console()

    def progress(phase: str, message: str) -> None:
        from rich.markup import escape

        console.print(f"[bold]{phase:>10}[/bold] {escape(message)}", highlight=False)

    options = VerifyOptions(
        record=record,
        rebuild=rebuild,
        mirror=mirror,
        write_mirror=write_mirror,
        deep=deep,
        cache_dir=cache_dir,
        insecure=_insecure_registries(insecure_registry),
        timeout=timeout,
        keep_image=keep_image,
        progress=progress if not as_json or sys.stderr.isatty() else None,
    )
    result = run_verify(options)
    if as_json:
        emit_json(result.to_json())
    else:
        for line in render_text(result):
            typer.echo(line)
    raise typer.Exit(result.exit_code)


def main() -> None:
    """Console entry point: run the app and turn expected failures into one line + exit code."""
    try:
        code = app(standalone_mode=False)
    except ReproAuditError as exc:
        sys.stderr.write(f"error: {exc.one_line()}\n")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(getattr(exc, "exit_code", 0))
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: unknown option, missing value, ...
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"error: {exc}\n")
        sys.exit(EXIT_INPUT)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
