"""Strict YAML for stack files: one document of plain JSON-like data, or a list of problems.

PyYAML's safe loader is lenient where a stack file must not be: a repeated key silently keeps
the last value (`nodes: 2` then `nodes: 2000`), tags such as `!!float vision` raise ValueError or
IndexError instead of a YAML error, dates and binary become Python objects the engine cannot
pass on, and a few hundred bytes of nested aliases expand to billions of values once anything
walks them. `load` refuses all of these with the place they occur.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

# A stack file of a hundred fleets is a few thousand values; a million values is no stack file
# but an alias bomb, refused before anything walks it in full.
MAX_VALUES = 1_000_000


class YamlProblem(ValueError):
    """Text that is not a stack file's YAML; `where` is the key path (or line) it was found at."""

    def __init__(self, where: str, message: str):
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing a mapping that repeats a key."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                earlier = seen.get(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
                ) from None
            if earlier is not None:
                raise YamlProblem(
                    f"line {key_node.start_mark.line + 1}",
                    f"key {key!r} appears twice in one mapping (first on line {earlier.start_mark.line + 1}); "
                    "give it once",
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node)
        return self.construct_document(node)


def _check_expanded_size(root: yaml.Node) -> None:
    """Count the values the document holds with every alias expanded, from its node graph
    (each node sized once), so an alias bomb is refused before it is built or walked."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise YamlProblem(f"line {node.start_mark.line + 1}", "an alias refers to the value that contains it")
        open_nodes.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_nodes.discard(key)
        if total > MAX_VALUES:
            raise YamlProblem("", f"holds more than {MAX_VALUES:,} values once its aliases are expanded; "
                                  "a stack file is far smaller (an alias bomb?)")
        sizes[key] = total
        return total

    size(root)


def load(text: str) -> Any:
    """The one YAML document in `text` as dicts, lists, strings, finite numbers, booleans and None."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except YamlProblem:
        raise
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise YamlProblem(where, f"is not valid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise YamlProblem("", f"is not valid YAML: {error}") from None
    except RecursionError:
        raise YamlProblem("", "is not valid YAML: nested too deeply") from None
    except (ValueError, TypeError, IndexError, OverflowError, AttributeError, KeyError) as error:
        # PyYAML's constructors raise these for explicit tags whose text does not fit the tag
        # (`!!int vision`, `!!float`, `!!binary` of bad base64, `!!timestamp` of a bad date).
        raise YamlProblem("", f"is not valid YAML: a value does not fit its tag ({type(error).__name__}: {error})") from None
    check_plain(data)
    return data


def _describe(value: Any) -> str:
    names = {"date": "a date", "datetime": "a timestamp", "bytes": "binary data", "set": "a set", "tuple": "a pair list"}
    kind = type(value).__name__
    return names.get(kind, f"a {kind}")


def check_plain(data: Any, root: str = "") -> None:
    """Refuse anything JSON cannot hold, and more values than any stack file needs (aliases
    expanded: a value reached twice through aliases counts twice, so a bomb stops early)."""
    count = 0
    stack: list[tuple[str, Any]] = [(root, data)]
    while stack:
        path, value = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise YamlProblem(root, f"holds more than {MAX_VALUES:,} values once its aliases are expanded; "
                                    "a stack file is far smaller (an alias bomb?)")
        if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                raise YamlProblem(path, f"{value} is not a finite number")
            continue
        if isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise YamlProblem(path, f"has the key {key!r}, which is {_describe(key)}; keys are strings")
                stack.append((f"{path}.{key}" if path else key, item))
            continue
        raise YamlProblem(path, f"is {_describe(value)}; quote it to make it a string")
