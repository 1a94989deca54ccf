"""`repro-audit build`: build the locked image and write its record."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from audit.cli.app import app
from audit.cli.common import (
    AuthFileOpt,
    CacheDirOpt,
    FormatOpt,
    JsonOpt,
    emit_json,
    progress_printer,
    use_credentials,
    wants_json,
)


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
    builder: Annotated[
        str | None,
        typer.Option(
            "--builder",
            help="classic | buildkit | NAME of a buildx builder "
            "(default: BuildKit when one is found, else classic).",
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Run every Dockerfile step again (the builder's cache and the remembered "
            "user image unused); artifacts and the stage are still reused, hash-checked.",
        ),
    ] = False,
    reproducible_image: Annotated[
        bool,
        typer.Option(
            "--reproducible-image/--no-reproducible-image",
            help="Normalise the image config (SOURCE_DATE_EPOCH) so rebuilds keep the image id.",
        ),
    ] = True,
    output_format: FormatOpt = "text",
    as_json: JsonOpt = False,
    auth_file: AuthFileOpt = None,
) -> None:
    """Build an image whose conda environment is exactly the lock, and record the build."""
    use_credentials(auth_file)
    from audit.build.run import BuildOptions, iter_progress_lines, run_build

    progress = progress_printer()

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
        builder=builder,
        no_cache=no_cache,
    )
    result = run_build(options)
    if wants_json(output_format, as_json):
        emit_json("build", 0, result.to_json())
    else:
        for line in iter_progress_lines(result):
            typer.echo(line)
    raise typer.Exit(0)
