"""MkDocs hook: the pages that come from the code, made at build time so they cannot drift.

- Every command of `audit.cli` gets a page `commands/<name>.md`: its usage and options are
  read from the typer app through click (the same objects `--help` prints), and put where
  the hand-written page says `<!-- cli-reference -->` (or at its end). A command with no
  hand-written page still gets one, so a new command is documented the moment it exists.
- The rule index `rules/index.md` is the rule registry (`audit.check.run.RULES`) as a table;
  each rule page gets the registry's name, level and summary under its title.
- The nav's "Commands" and "Rules" sections are filled from the same two sources, so with
  `validation.nav.not_found: warn` and `--strict`, a rule without a page fails the build.
"""

from __future__ import annotations

import html
import re
from typing import Any

import typer.main

MARKER = "<!-- cli-reference -->"


def cli_group() -> Any:
    """The click group behind `repro-audit`, with every command registered.

    typer ships its own copy of click, so the objects are read by duck typing (`commands`,
    `params`, `param_type_name`) rather than checked against an installed click.
    """
    from audit.cli import load_commands

    group = typer.main.get_command(load_commands())
    assert hasattr(group, "commands")
    return group


def _is_option(param: Any) -> bool:
    return param.param_type_name == "option"


def command_names() -> list[str]:
    """Every command, in the order `repro-audit --help` lists them."""
    return list(cli_group().commands)


def rule_registry() -> dict[str, Any]:
    """The check rules by id (`audit.check.run.RULES`)."""
    from audit.check.run import RULES

    return dict(sorted(RULES.items()))


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


def _default(param: Any) -> str:
    if _is_option(param) and param.is_flag and not param.secondary_opts:
        return ""
    value = param.default
    if value is None or value == () or value == []:
        return ""
    if _is_option(param) and param.secondary_opts and isinstance(value, bool):
        return f"`{param.opts[0] if value else param.secondary_opts[0]}`"
    return f"`{value}`"


def _names(param: Any, ctx: Any) -> str:
    if not _is_option(param):
        return f"`{param.make_metavar(ctx)}`"
    names = " / ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    if not param.is_flag:
        names += f" `{param.make_metavar(ctx)}`"
    return names


def command_reference(name: str) -> str:
    """Markdown for one command: its help text, usage line and a table of its parameters."""
    command = cli_group().commands[name]
    ctx = command.context_class(command, info_name=f"repro-audit {name}")
    usage = command.get_usage(ctx).removeprefix("Usage: ")
    lines = [
        "## Usage and options",
        "",
        "<!-- generated from the CLI (docs/hooks/reference.py): do not edit -->",
        "",
        "```",
        usage,
        "```",
        "",
        _cell(command.help or ""),
        "",
        "| parameter | description | default |",
        "|---|---|---|",
    ]
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        text = getattr(param, "help", None) or ""
        notes = []
        if param.required:
            notes.append("required")
        repeatable = getattr(param, "multiple", False) or getattr(param, "nargs", 1) == -1
        if repeatable and "repeatable" not in text:
            notes.append("repeatable")
        if getattr(param, "envvar", None):
            notes.append(f"env `{param.envvar}`")
        if notes:
            text = f"{text} ({', '.join(notes)})" if text else ", ".join(notes)
        lines.append(f"| {_names(param, ctx)} | {_cell(text)} | {_default(param)} |")
    lines.append("| `--help` | Show the command's help and exit. | |")
    return "\n".join(lines) + "\n"


def rules_index() -> str:
    """The rule index page: every registered rule with its level and summary."""
    lines = [
        "# Rules",
        "",
        "<!-- generated from audit.check.run.RULES (docs/hooks/reference.py): do not edit -->",
        "",
        "`repro-audit check` reports each finding under one of these rules. `error` and",
        "`warning` fail the check (exit 1), `note` does not; a policy can change a rule's",
        "level or turn it off, and a comment can suppress one finding (see",
        "[check](../commands/check.md)). Each page says why the rule matters, shows a bad",
        "and a good example, and how to fix it.",
        "",
        "| rule | name | level | what it finds |",
        "|---|---|---|---|",
    ]
    for rule in rule_registry().values():
        lines.append(
            f"| [{rule.id}]({rule.id}.md) | `{rule.name}` | {rule.level} | {_cell(rule.summary)} |"
        )
    return "\n".join(lines) + "\n"


def rule_header(rule_id: str) -> str:
    """The registry's facts about one rule, shown under the page's title."""
    rule = rule_registry()[rule_id]
    tags = ", ".join(f"`{t}`" for t in rule.tags)
    return (
        f"**`{rule.name}`** · default level **{rule.level}** · tags {tags}\n\n"
        f"_{_cell(rule.summary)}_\n"
    )


def command_page(name: str, markdown: str | None) -> str:
    """The command's hand-written page with its generated reference, or a page of its own."""
    reference = command_reference(name)
    if markdown is None:
        return f"# {name}\n\n{reference}"
    if MARKER in markdown:
        return markdown.replace(MARKER, reference, 1)
    return markdown.rstrip("\n") + "\n\n" + reference


# ------------------------------------------------------------------------ MkDocs events


def _fill_nav(nav: list[Any], title: str, entries: list[Any]) -> None:
    """Append the generated entries to the nav section `title` (after any fixed ones)."""
    for item in nav:
        if isinstance(item, dict) and title in item:
            fixed = item[title] or []
            known = {next(iter(e.values())) if isinstance(e, dict) else e for e in fixed}
            item[title] = fixed + [e for e in entries if next(iter(e.values())) not in known]
            return
    nav.append({title: entries})


def on_config(config: Any) -> Any:
    commands = [{name: f"commands/{name}.md"} for name in command_names()]
    rules = [{f"{r.id} {r.name}": f"rules/{r.id}.md"} for r in rule_registry().values()]
    nav = config["nav"]
    _fill_nav(nav, "Commands", commands)
    _fill_nav(nav, "Rules", [{"Index": "rules/index.md"}, *rules])
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for name in command_names():
        uri = f"commands/{name}.md"
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, content=command_page(name, None)))
    files.append(File.generated(config, "rules/index.md", content=rules_index()))
    return files


_RULE_PAGE = re.compile(r"^rules/(RA\d{3})\.md$")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    uri = page.file.src_uri
    if uri.startswith("commands/") and uri.count("/") == 1:
        name = uri.removeprefix("commands/").removesuffix(".md")
        if name in cli_group().commands and not page.file.generated_by:
            return command_page(name, markdown)
    match = _RULE_PAGE.match(uri)
    if match and match.group(1) in rule_registry():
        title, _, rest = markdown.partition("\n")
        return f"{title}\n\n{rule_header(match.group(1))}{rest}"
    return markdown
