"""Hostile input files shared by tests/test_hostile_inputs.py and bench/bench_hostile.py."""

from __future__ import annotations


def bomb_lines(levels: int = 9, indent: str = "    ") -> list[str]:
    """Billion laughs: `levels` anchors of ten aliases each (10**levels strings)."""
    lines = [f'{indent}l0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{indent}l{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return lines


def bomb_lock(levels: int = 10) -> str:
    """A 1 KB conda-lock.yml whose custom_metadata expands to 10**levels strings (its
    first anchor on line 13)."""
    head = [
        "version: 1",
        "metadata:",
        "  content_hash:",
        "    linux-64: '0123'",
        "  channels:",
        "  - url: conda-forge",
        "    used_env_vars: []",
        "  platforms:",
        "  - linux-64",
        "  sources:",
        "  - environment.yml",
        "  custom_metadata:",
    ]
    return "\n".join([*head, *bomb_lines(levels), "package: []"]) + "\n"
