"""Team policy from `repro-audit.toml` or `[tool.repro-audit]` in pyproject.toml.

Keys: `allowed-channels` (names or URLs), `banned-packages` (conda match specs such as
"openssl <3"), `required-platforms`, `max-lock-age-days`, `disable-rules`, `rule-levels`,
and `environment-files` (the project's environment files, `audit.lockfile.projectconfig`).
repro-audit.toml wins when both
exist. A key repro-audit does not know is bad input (exit 2) naming the key and its line:
a typo must not silently switch a policy off.

Lock age is measured from the last git commit that touched conda-lock.yml
(`git log -1 --format=%ct`); outside git, or for a lock git does not track, from the
file's modification time.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.check.run import Finding, finding, rel
from audit.core.errors import InfrastructureError, InputError
from audit.core.platforms import check_platform

if TYPE_CHECKING:
    from audit.check.rules.conda import CondaProject

KEYS = (
    "allowed-channels",
    "banned-packages",
    "required-platforms",
    "max-lock-age-days",
    "disable-rules",
    "rule-levels",
    "environment-files",
)
ANACONDA = "https://conda.anaconda.org"


@dataclass
class Policy:
    file: str
    allowed_channels: list[str] | None = None
    banned_packages: list[str] = field(default_factory=list)
    required_platforms: list[str] = field(default_factory=list)
    max_lock_age_days: float | None = None
    disabled_rules: frozenset[str] = frozenset()
    rule_levels: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.file}:{line}" if line else self.file


def _key_lines(text: str, table: str | None) -> dict[str, int]:
    """Line of each `key =` in the table (top level when `table` is None)."""
    lines: dict[str, int] = {}
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        header = re.match(r"^\[\s*([^\[\]]+?)\s*\]$", stripped)
        if header:
            current = header.group(1).replace('"', "").replace("'", "")
            continue
        match = re.match(r"^([A-Za-z0-9_\-\"']+)\s*=", stripped)
        if match and current == table:
            lines.setdefault(match.group(1).strip("\"'"), number)
    return lines


def load_policy(root: Path, folder: str = ".") -> Policy | None:
    """The policy in the folder `root`, or None when it has none.

    `folder` is how findings name that folder (relative to the checked root).
    """
    import tomllib

    for base, table in (("repro-audit.toml", None), ("pyproject.toml", "tool.repro-audit")):
        path = root / base
        name = base if folder in ("", ".") else f"{folder}/{base}"
        if not path.is_file():
            continue
        from audit.core.text import cannot_read, decode_text

        try:
            text = decode_text(path.read_bytes(), name)
            data = tomllib.loads(text)
        except OSError as exc:
            raise InputError(cannot_read(path, exc), where=name) from None
        except tomllib.TOMLDecodeError as exc:
            match = re.search(r"line (\d+)", str(exc))
            where = f"{name}:{match.group(1)}" if match else name
            raise InputError(f"invalid TOML: {exc}", where=where) from None
        if table is not None:
            data = data.get("tool", {}).get("repro-audit")
            if data is None:
                continue
        return _parse(data, name, _key_lines(text, table))
    return None


def _parse(data: Any, name: str, lines: dict[str, int]) -> Policy:
    if not isinstance(data, dict):
        raise InputError("[tool.repro-audit] must be a table", where=name)
    policy = Policy(file=name, lines=lines)
    for key, value in data.items():
        where = f"{name}:{lines[key]}" if key in lines else name
        if key not in KEYS:
            raise InputError(f"unknown policy key '{key}' (known: {', '.join(KEYS)})", where=where)
        if key == "rule-levels":
            policy.rule_levels = _rule_levels(value, key, where)
            continue
        if key == "max-lock-age-days":
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InputError(f"'{key}' must be a non-negative number of days", where=where)
            policy.max_lock_age_days = float(value)
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"'{key}' must be a list of strings", where=where)
        if key == "environment-files":  # read by audit.lockfile.projectconfig; checked here
            from audit.lockfile.projectconfig import is_relative

            if not value or not all(is_relative(v) for v in value):
                raise InputError(
                    f"'{key}' must list the environment files, relative to {name}'s folder",
                    where=where,
                )
        elif key == "disable-rules":
            policy.disabled_rules = frozenset(_rule_id(v, key, where) for v in value)
        elif key == "allowed-channels":
            policy.allowed_channels = list(value)
        elif key == "banned-packages":
            from rattler import MatchSpec

            for spec in value:
                try:
                    MatchSpec(spec)
                except Exception as exc:
                    raise InputError(
                        f"invalid match spec '{spec}' in '{key}': {str(exc).splitlines()[0]}",
                        where=where,
                    ) from None
            policy.banned_packages = list(value)
        else:
            policy.required_platforms = [check_platform(p, where=where) for p in value]
    return policy


def _rule_id(value: str, key: str, where: str) -> str:
    from audit.check.run import RULES

    by_name = {rule.name: rule.id for rule in RULES.values()}
    rule_id = by_name.get(value, value.upper())
    if rule_id not in RULES:
        raise InputError(
            f"unknown rule '{value}' in '{key}' (see `check --list-rules`)", where=where
        )
    return rule_id


def _rule_levels(value: Any, key: str, where: str) -> dict[str, str]:
    from audit.check.run import LEVELS

    if not isinstance(value, dict):
        raise InputError(f"'{key}' must be a table of rule = level", where=where)
    levels: dict[str, str] = {}
    for rule, level in value.items():
        if level not in LEVELS:
            raise InputError(
                f"'{key}': level of {rule} must be one of {', '.join(LEVELS)}", where=where
            )
        levels[_rule_id(str(rule), key, where)] = level
    return levels


# --------------------------------------------------------------------------- suppression

_IGNORE_RE = re.compile(r"#\s*repro-audit:\s*ignore=([A-Za-z0-9_,\-]+)(?:\s+(.*))?$")


def suppressions(text: str, spans: list[tuple[int, int]] | None = None) -> dict[int, set[str]]:
    """line → rule ids silenced there by `# repro-audit: ignore=RA026[,RA027] reason`.

    A comment covers its own line and the next line that is not a comment; with `spans`
    (a Dockerfile's instructions as (first line, last line)), it covers every line of the
    instruction it is in or directly above, so one comment silences a multi-line RUN.
    """
    out: dict[int, set[str]] = {}
    if "repro-audit:" not in text:
        return out  # the common case, one scan of the text
    lines = text.splitlines()
    for number, raw in enumerate(lines, start=1):
        match = _IGNORE_RE.search(raw)
        if not match:
            continue
        ids = {part.strip().upper() for part in match.group(1).split(",") if part.strip()}
        target = number
        if raw.lstrip().startswith("#"):
            target = next(
                (
                    n
                    for n in range(number + 1, len(lines) + 1)
                    if not lines[n - 1].lstrip().startswith("#")
                ),
                number,
            )
        covered = {number, target}
        for first, last in spans or ():
            if first <= target <= last or first <= number <= last:
                covered.update(range(first, last + 1))
        for line in covered:
            out.setdefault(line, set()).update(ids)
    return out


def apply_policy(
    findings: list[Finding], policy: Policy | None, silenced: dict[str, dict[int, set[str]]]
) -> list[Finding]:
    """Drop disabled and suppressed findings and re-grade the others as the policy says."""
    from dataclasses import replace

    out: list[Finding] = []
    for item in findings:
        if policy is not None and item.rule_id in policy.disabled_rules:
            continue
        names = silenced.get(item.file, {}).get(item.line, set())
        if item.rule_id in names or item.rule.name.upper() in names:
            continue
        if policy is not None and item.rule_id in policy.rule_levels:
            item = replace(item, level=policy.rule_levels[item.rule_id])
        out.append(item)
    return out


# --------------------------------------------------------------------------- rules


def normalize_channel(channel: str) -> str:
    """A channel name or URL as a comparable URL without credentials or trailing slash."""
    from audit.core.redact import redact_url

    channel = channel.strip().rstrip("/")
    if "://" in channel:
        return redact_url(channel)
    if channel.startswith("/"):
        return Path(channel).as_uri()
    return f"{ANACONDA}/{channel}"


def check_policy(policy: Policy, root: Path, project: CondaProject) -> list[Finding]:
    out: list[Finding] = []
    if policy.allowed_channels is not None:
        out.extend(_channels(policy, project))
    if policy.banned_packages:
        out.extend(_banned(policy, project))
    if policy.required_platforms:
        out.extend(_required(policy, project))
    if policy.max_lock_age_days is not None and project.meta is not None:
        out.extend(_age(policy, root, project))
    return out


def _channels(policy: Policy, project: CondaProject) -> list[Finding]:
    allowed = {normalize_channel(c) for c in policy.allowed_channels or ()}
    out: list[Finding] = []
    reported: set[str] = set()

    def bad(channel: str, file: str, line: int, what: str) -> None:
        url = normalize_channel(channel)
        if channel == "nodefaults" or url in allowed or channel in (policy.allowed_channels or ()):
            return
        reported.add(url)
        out.append(
            finding(
                "RA013",
                file,
                line,
                f"{what} {channel} is not in allowed-channels ({policy.where('allowed-channels')})",
            )
        )

    if project.env is not None:
        for channel in project.env.channels:
            bad(channel.value, channel.file, channel.line, "channel")
    if project.scanned is not None and project.meta is not None:
        for channel in project.meta.channels:
            bad(
                channel, project.lock_name, project.scanned.channel_lines.get(channel, 0), "channel"
            )
        for entry in project.scanned.entries:
            if entry.manager != "conda" or not entry.url:
                continue
            channel = entry.url.rsplit("/", 2)[0]
            if normalize_channel(channel) not in reported:
                bad(channel, project.lock_name, entry.line, f"{entry.name} comes from channel")
    return out


def _banned(policy: Policy, project: CondaProject) -> list[Finding]:
    from rattler import MatchSpec

    from audit.check.rules.conda import package_record

    specs = [(s, MatchSpec(s)) for s in policy.banned_packages]
    out: list[Finding] = []
    for platform, entries in sorted(project.conda.items()):
        for text, spec in specs:
            name = spec.name.normalized if spec.name is not None else None
            candidates = [entries[name]] if name in entries else [] if name else entries.values()
            for entry in candidates:
                if spec.matches(package_record(entry)):
                    out.append(
                        finding(
                            "RA014",
                            project.lock_name,
                            entry.line,
                            f"{entry.name} {entry.version} ({platform}) is banned by '{text}' "
                            f"({policy.where('banned-packages')})",
                        )
                    )
    return out


def _required(policy: Policy, project: CondaProject) -> list[Finding]:
    locked = set(project.meta.platforms) if project.meta is not None else set()
    file = project.lock_name if project.meta is not None else policy.file
    line = project.scanned.key_lines.get("metadata.platforms", 0) if project.scanned else 0
    return [
        finding(
            "RA015",
            file,
            line,
            f"platform {p} is required by policy ({policy.where('required-platforms')}) "
            "but not locked",
        )
        for p in policy.required_platforms
        if p not in locked
    ]


def lock_timestamp(root: Path, lock: Path) -> float:
    """Commit time of the lock's last change in git, else its modification time."""
    from audit.core.git import run_git

    try:
        done = run_git(["log", "-1", "--format=%ct", "--", lock.name], lock.parent, timeout=10)
        text = done.stdout.decode().strip()
        if done.returncode == 0 and text.isdigit():
            return float(text)
    except (InfrastructureError, OSError, subprocess.SubprocessError):
        pass
    return lock.stat().st_mtime


def age_text(days: float) -> str:
    """An age a reader can compare: `5 hours`, `1.5 days`, `120 days` (never "0 days")."""
    if days < 1:
        hours = days * 24
        if hours < 1:
            return f"{max(hours * 60, 1):.0f} minute{'s' if round(hours * 60) > 1 else ''}"
        return f"{hours:.0f} hour{'s' if round(hours) != 1 else ''}"
    if days < 10 and days != int(days):
        return f"{days:.1f} days"
    return f"{days:.0f} day{'s' if round(days) != 1 else ''}"


def _age(policy: Policy, root: Path, project: CondaProject) -> list[Finding]:
    assert project.lock_path is not None and policy.max_lock_age_days is not None
    age_days = (time.time() - lock_timestamp(root, project.lock_path)) / 86400
    limit = policy.max_lock_age_days
    if age_days <= limit:
        return []
    return [
        finding(
            "RA016",
            rel(root, project.lock_path),
            0,
            f"the lock is {age_text(age_days)} old; policy allows "
            f"{limit:g} day{'s' if limit != 1 else ''} "
            f"({policy.where('max-lock-age-days')}); run `repro-audit lock --force`",
        )
    ]
