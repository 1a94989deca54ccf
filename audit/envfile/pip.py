"""The `pip:` section of environment.yml: requirement lines and pip option lines."""

from __future__ import annotations

from collections.abc import Iterable

from audit.core.errors import InputError


def _option_url(line: str) -> tuple[str, str] | None:
    """(option, URL) for `--index-url URL`, `--index-url=URL`, `-i URL`, `-iURL`; else None."""
    for option in ("--extra-index-url", "--index-url", "-i"):
        if line == option:
            return option, ""
        if line.startswith(option):
            rest = line[len(option) :]
            if rest[:1] in ("=", " ", "\t") or option == "-i":
                return option, rest.lstrip(" \t=").strip()
    return None


def split_pip_options(
    lines: Iterable[str], *, source: str = "environment.yml"
) -> tuple[list[str], list[str], list[str]]:
    """Split a `pip:` list into (requirements, index URLs, extra index URLs).

    pip accepts `--index-url URL` / `--extra-index-url URL` (and `-i URL`) lines in the
    list but conda-lock's parser rejects them, so the caller strips them with this first.
    Other option lines (`--find-links`, `-e`, `-r`, ...) are an InputError: they would
    change what is installed in ways a wheel lock cannot record.
    """
    requirements: list[str] = []
    index_urls: list[str] = []
    extra_urls: list[str] = []
    for raw in lines:
        line = str(raw).strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("-"):
            requirements.append(line)
            continue
        found = _option_url(line)
        if found is None:
            option = line.split()[0].split("=")[0]
            raise InputError(
                f"pip option '{option}' is not supported in the pip list",
                where=source,
                hint="only --index-url and --extra-index-url are; repro-audit locks wheels",
            )
        option, url = found
        if not url or url.startswith("-") or " " in url:
            raise InputError(f"pip option '{option}' needs one URL", where=source)
        (extra_urls if option == "--extra-index-url" else index_urls).append(url)
    return requirements, index_urls, extra_urls
