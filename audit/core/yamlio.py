"""YAML loading: libyaml's C loader when PyYAML has it (about 10x faster), else the pure one."""

from __future__ import annotations

from typing import Any

import yaml


def safe_loader() -> type[yaml.SafeLoader]:
    """The fastest safe loader this PyYAML offers (a subclass of SafeLoader either way)."""
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str | bytes) -> Any:
    """One YAML document, loaded safely with the fastest loader."""
    return yaml.load(text, Loader=safe_loader())  # noqa: S506 - safe_loader is a SafeLoader
