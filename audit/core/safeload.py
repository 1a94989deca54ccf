"""The one guard every YAML and JSON reader goes through: hostile documents cost nothing.

PyYAML shares an alias's node as one Python object, so a 10 KB "billion laughs" (nine
levels of `&a [*a, *a, …]`) loads in microseconds and then costs gigabytes to whoever
walks it (`str()`, `json.dumps`, a deepcopy, a recursive check). Before a document is
built, its composed node graph is measured: the nodes aliases would add when expanded
are bounded, a recursive alias is refused, and so is nesting deeper than any real file.
JSON has no aliases; its readers get the depth bound and one wording for every error
(a 5,000-digit number, a truncated file, nesting that overflows the recursion limit).
Every failure is an InputError naming the file and line.
"""

from __future__ import annotations

import json
from itertools import chain, compress
from typing import TYPE_CHECKING, Any

from audit.core.errors import InputError

if TYPE_CHECKING:  # PyYAML is imported by the YAML readers only (JSON's hot path skips it)
    import yaml

#: Nodes that alias expansion may add to a document (the document itself is not counted,
#: so a 3,000-package lock is fine; environment.yml's old bound of 100,000 nodes, kept).
MAX_EXPANDED_NODES = 100_000
#: Nesting deeper than this is refused: real files are a few levels deep.
MAX_DEPTH = 200
#: Expanded sizes are capped here while summing (no huge integers for a bomb).
_CAP = 1 << 62


def safe_loader() -> type[yaml.SafeLoader]:
    """The fastest safe loader this PyYAML offers (libyaml's C loader, about 10x faster)."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DocumentError(InputError):
    """A document refused by the guard: `file:line: what`, the line also kept on its own."""

    def __init__(self, message: str, *, file: str, line: int | None = None) -> None:
        super().__init__(message, where=f"{file}:{line}" if line else file)
        self.file = file
        self.line = line


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def yaml_error(exc: yaml.YAMLError, where: str) -> DocumentError:
    """A PyYAML error as one line: `file:line: not valid YAML: problem`."""
    import yaml

    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        return DocumentError(f"not valid YAML: {problem}", file=where, line=_line(mark))
    return DocumentError(f"not valid YAML: {str(exc).splitlines()[0]}", file=where)


def _children(node: yaml.Node) -> list[yaml.Node]:
    value = node.value
    if not isinstance(value, list):  # a scalar node's value is its text
        return []
    if value and isinstance(value[0], tuple):  # a mapping node: (key, value) pairs
        return [item for pair in value for item in pair]
    return list(value)


def check_nodes(root: yaml.Node, where: str) -> None:
    """Refuse an alias bomb, a recursive alias or too deep nesting (InputError at file:line).

    One pass over the distinct nodes (each shared node is sized once), so the check costs
    what the file holds, never what it would expand to.
    """

    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    distinct = 0
    shared: yaml.Node | None = None
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 0, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            sizes[key] = min(_CAP, 1 + sum(sizes[id(c)] for c in _children(node)))
            continue
        if key in sizes:
            shared = shared or node
            continue
        if key in on_path:
            raise DocumentError(
                "YAML alias refers to itself (a recursive document)",
                file=where,
                line=_line(node.start_mark),
            )
        if depth > MAX_DEPTH:
            raise DocumentError(
                f"nested more than {MAX_DEPTH} levels deep", file=where, line=_line(node.start_mark)
            )
        distinct += 1
        on_path.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in _children(node) if id(c) not in sizes)
    if sizes[id(root)] - distinct > MAX_EXPANDED_NODES:
        raise DocumentError(
            f"YAML aliases expand to more than {MAX_EXPANDED_NODES} nodes (an alias bomb?)",
            file=where,
            line=_line(shared.start_mark if shared is not None else None),
        )


def compose_yaml(text: str | bytes, where: str) -> yaml.Node | None:
    """The checked node tree of one YAML document (line numbers kept), or InputError."""
    import yaml

    loader = safe_loader()(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise yaml_error(exc, where) from None
    except RecursionError:
        raise DocumentError(f"nested more than {MAX_DEPTH} levels deep", file=where) from None
    finally:
        loader.dispose()
    if node is not None:
        check_nodes(node, where)
    return node


def load_yaml(text: str | bytes, where: str = "<yaml>") -> Any:
    """One YAML document as Python data, after the guard; InputError at file:line if bad."""
    import yaml

    loader = safe_loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_nodes(node, where)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, where) from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of more than 4,300 digits
        reason = str(exc).split(":")[0]
        raise DocumentError(f"not valid YAML: {reason}", file=where) from None
    except RecursionError:
        raise DocumentError(f"nested more than {MAX_DEPTH} levels deep", file=where) from None
    finally:
        loader.dispose()


def load_json(data: str | bytes, where: str = "<json>", *, check_depth: bool = True) -> Any:
    """One JSON document, or InputError `file:line: not valid JSON: …` (never a traceback).

    `check_depth=False` leaves the depth guard to the caller, who must run `check_depth`
    before anything walks the document (audit.core.schemas.validate does, unless the
    document matched its schema: then every part that is read has a known depth).
    """
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        from audit.core.text import decode_text

        decode_text(data, where)  # names the encoding (UTF-16, …) or the bad byte
        raise DocumentError(f"not UTF-8 text: {exc.reason}", file=where) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"not valid JSON: {exc.msg}", file=where, line=exc.lineno) from None
    except RecursionError:
        raise DocumentError(f"nested more than {MAX_DEPTH} levels deep", file=where) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise DocumentError(f"not valid JSON: {str(exc).splitlines()[0]}", file=where) from None
    if check_depth:
        _check_depth(value, where)
    return value


def check_depth(value: Any, where: str) -> None:
    """The depth guard of `load_json`, for a document loaded with `check_depth=False`."""
    _check_depth(value, where)


_IS_DICT = frozenset({dict}).__contains__
_IS_LIST = frozenset({list}).__contains__
_IS_CONTAINER = frozenset({dict, list}).__contains__


def _check_depth(value: Any, where: str) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH (recursive walkers would overflow).

    Level by level, with C-level loops only (map, compress, chain): an inventory of
    50,000 packages is a million values, walked one by one in Python that took as long
    as parsing the file.
    """
    level = [value]
    for _ in range(MAX_DEPTH + 1):
        types = list(map(type, level))
        dicts = compress(level, map(_IS_DICT, types))
        lists = compress(level, map(_IS_LIST, types))
        children = list(chain(chain.from_iterable(map(dict.values, dicts)), *lists))
        level = list(compress(children, map(_IS_CONTAINER, map(type, children))))
        if not level:
            return
    raise DocumentError(f"nested more than {MAX_DEPTH} levels deep", file=where)
