"""A quick yes for a JSON document against one of the shipped schemas, without jsonschema.

jsonschema walks every value of a document through its validator objects: 16 s for a
stored inventory of 50,000 packages, and 60 ms of imports before it starts. Reading a
stored inventory (`diff a.json b.json`) is a hot path, so documents are first checked
here against the very same schema file, for the keywords the shipped schemas use, and a
list of flat objects (the packages) column by column with C-level loops only.

`surely_valid` answers True only when the document certainly matches; False is no
verdict (a keyword it does not know, a type it cannot decide exactly, or a real error):
jsonschema then has the last word and words the error.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from typing import Any

#: keywords that say nothing about validity by themselves (`then`/`else` are `if`'s)
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples"}
    | {"then", "else"}
)
#: JSON Schema type → the one Python type json.loads gives it (a float 1.0 is an
#: "integer" too: not decided here, jsonschema decides it)
_EXACT: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "boolean": bool,
    "object": dict,
    "array": list,
    "null": type(None),
    "integer": int,
    "number": (int, float),
}
#: types whose test above is exact (an `if` on them is decided, not guessed)
_DECIDED = frozenset({"string", "boolean", "object", "array", "null"})


def surely_valid(value: Any, rule: Any, defs: dict[str, Any]) -> bool:
    """True only when `value` certainly matches `rule`; `defs` resolves `#/$defs/...`.

    It descends only as deep as the schema does, never as deep as the document; a schema
    that refers to itself on a deep document is no verdict either.
    """
    try:
        return _valid(value, rule, defs)
    except RecursionError:
        return False


def _valid(value: Any, rule: Any, defs: dict[str, Any]) -> bool:
    if rule is True:
        return True
    if not isinstance(rule, dict):
        return False
    for keyword, argument in rule.items():
        if keyword in _ANNOTATIONS:
            continue
        check = _KEYWORDS.get(keyword)
        if check is None or not check(value, argument, rule, defs):
            return False
    return True


def _type(value: Any, argument: Any, rule: dict[str, Any], defs: dict[str, Any]) -> bool:
    names = argument if isinstance(argument, list) else [argument]
    if type(value) is bool:  # a bool is an int to Python, never to JSON Schema
        return "boolean" in names
    return any(name in _EXACT and isinstance(value, _EXACT[name]) for name in names)


def _same(value: Any, expected: Any) -> bool:
    """JSON equality for scalars (`1` is not `true`); containers are not decided."""
    return type(value) is type(expected) and isinstance(value, (str, int, float, type(None)))


def _enum(value: Any, argument: Any, rule: dict[str, Any], defs: dict[str, Any]) -> bool:
    return any(_same(value, x) and value == x for x in argument)


def _const(value: Any, argument: Any, rule: dict[str, Any], defs: dict[str, Any]) -> bool:
    return _same(value, argument) and value == argument


def _required(value: Any, argument: Any, rule: dict[str, Any], defs: dict[str, Any]) -> bool:
    return not isinstance(value, dict) or all(key in value for key in argument)


def _properties(value: Any, argument: Any, rule: dict[str, Any], defs: dict[str, Any]) -> bool:
    if not isinstance(value, dict):
        return True
    return all(_valid(value[k], sub, defs) for k, sub in argument.items() if k in value)


def _additional(value: Any, argument: Any, rule: dict[str, Any], defs: dict[str, Any]) -> bool:
    if not isinstance(value, dict):
        return True
    if "patternProperties" in rule:
        return False
    extra = value.keys() - rule.get("properties", {}).keys()
    return all(_valid(value[key], argument, defs) for key in extra)


def _items(value: Any, argument: Any, rule: dict[str, Any], defs: dict[str, Any]) -> bool:
    if not isinstance(value, list):
        return True
    if uniform_ok(value, _resolve(argument, defs)):
        return True
    return all(_valid(item, argument, defs) for item in value)


def _ref(value: Any, argument: Any, rule: dict[str, Any], defs: dict[str, Any]) -> bool:
    target = _resolve({"$ref": argument}, defs)
    return target is not None and _valid(value, target, defs)


def _if(value: Any, argument: Any, rule: dict[str, Any], defs: dict[str, Any]) -> bool:
    """`if: {type: T}` only, T one whose test is exact; then `then` or `else` applies."""
    if not isinstance(argument, dict) or set(argument) != {"type"}:
        return False
    names = argument["type"] if isinstance(argument["type"], list) else [argument["type"]]
    if not set(names) <= _DECIDED:
        return False
    branch = "then" if _type(value, argument["type"], argument, defs) else "else"
    return _valid(value, rule.get(branch, True), defs)


_KEYWORDS: dict[str, Callable[[Any, Any, dict[str, Any], dict[str, Any]], bool]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "required": _required,
    "properties": _properties,
    "additionalProperties": _additional,
    "items": _items,
    "$ref": _ref,
    "if": _if,
}


def _resolve(rule: Any, defs: dict[str, Any]) -> Any:
    """The rule a lone `{"$ref": "#/$defs/X"}` points at (the rule itself otherwise)."""
    for _ in range(8):  # a chain of references, not a loop
        if not (isinstance(rule, dict) and set(rule) == {"$ref"}):
            return rule
        prefix, _, name = str(rule["$ref"]).rpartition("/")
        if prefix != "#/$defs" or name not in defs:
            return None
        rule = defs[name]
    return None


# --------------------------------------------------------------------------- columns


def _column_rule(rule: Any) -> str | None:
    """`str`, `enum` or `strings` (an array of strings) for the property rules a column
    check decides; None for any other."""
    if not isinstance(rule, dict):
        return None
    keywords = set(rule) - _ANNOTATIONS
    if keywords == {"type"} and rule["type"] == "string":
        return "str"
    if keywords == {"enum"} and all(type(x) is str for x in rule["enum"]):
        return "enum"
    array = keywords == {"type", "items"} and rule["type"] == "array"
    return "strings" if array and rule["items"] == {"type": "string"} else None


def _flat_definition(rule: Any) -> bool:
    """An object of strings, enums of strings and arrays of strings (a package)."""
    if not isinstance(rule, dict) or rule.get("type") != "object":
        return False
    if not set(rule) - _ANNOTATIONS <= {"type", "required", "properties"}:
        return False
    return all(_column_rule(sub) is not None for sub in rule.get("properties", {}).values())


def uniform_ok(items: list[Any], rule: Any) -> bool:
    """A quick yes for a list of objects of one flat definition, column by column.

    Every item a dict with the keys of the first (what `Inventory.to_json` writes),
    every column of the type its property says. No Python bytecode runs per item (map,
    itemgetter and set are C): 50,000 packages cost milliseconds.
    """
    if not items or not _flat_definition(rule):
        return not items
    if set(map(type, items)) != {dict}:
        return False
    keys = list(items[0])
    if set(map(len, items)) != {len(keys)} or not set(rule.get("required", ())) <= set(keys):
        return False
    kinds = {key: _column_rule(sub) for key, sub in rule.get("properties", {}).items()}
    if any(kinds.get(key) is None for key in keys):
        return False  # a key of no known column (a later version's field): item by item
    strings = [key for key in keys if kinds[key] in ("str", "enum")]
    arrays = [key for key in keys if kinds[key] == "strings"]
    try:  # as many keys as the first and each of its keys: the same keys
        texts = _cells(items, strings)
        arrays_cells = _cells(items, arrays)
    except KeyError:
        return False
    try:
        "".join(texts)  # str.join refuses anything but strings, in one C loop
    except TypeError:
        return False
    width = len(strings)
    for key in strings:
        if kinds[key] == "enum":
            column = texts[strings.index(key) :: width]
            if not set(column) <= set(rule["properties"][key]["enum"]):
                return False
    if set(map(type, arrays_cells)) - {list}:
        return False
    return set(map(type, itertools.chain.from_iterable(arrays_cells))) <= {str}


def _cells(items: list[dict[str, Any]], keys: list[str]) -> list[Any]:
    """Every item's values of `keys`, row after row, one flat list (KeyError if missing)."""
    if not keys:
        return []
    if len(keys) == 1:
        return list(map(operator.itemgetter(keys[0]), items))
    return list(itertools.chain.from_iterable(map(operator.itemgetter(*keys), items)))
