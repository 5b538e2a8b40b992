"""Recorded resource inputs checked against the provider schema as the installed SDKs declare it.

Each provider SDK registers its resource modules with the Pulumi runtime (type token -> module and
class); a resource's inputs are the `@pulumi.input_type` class `<Class>Args` beside it, whose
properties carry the engine's camelCase name (`pulumi.getter(name=...)`) and a type hint: a scalar,
a list or map of something, another input type (a nested object), or an enum class (`_enums.py`).
`problems` walks the camelCase inputs the engine received through those classes and lists, by
input path, every property the schema does not declare (at any depth), every required input that
is absent, every value of the wrong type and every value outside a closed enum.

A closed enum (the hint is the enum class alone) must hold one of its members. Where the SDK admits
a plain string beside the enum (`Union[str, SomeEnum]`: Azure's "modelAsString" enums, AWS's
instance types) the provider takes values newer than the SDK's list, so any string conforms.
Values unknown at preview pass (their type is not known yet).
"""

from __future__ import annotations

import collections.abc
import enum
import functools
import importlib
import typing
from typing import Any

import pulumi
from pulumi import _types
from pulumi.runtime import rpc

from aifactory.inventory import is_unknown

Schema = Any  # a resolved type hint


@functools.cache
def _classes() -> dict[str, tuple[str, str]]:
    """Type token -> (module, class name), for every resource the installed SDKs register."""
    import pulumi_aws  # noqa: F401  (importing an SDK registers its modules)
    import pulumi_azure_native  # noqa: F401
    import pulumi_gcp  # noqa: F401

    out = {}
    for modules in rpc._RESOURCE_MODULES.values():
        for module in modules:
            info = getattr(module, "mod_info", None)
            if info:
                for token, name in info["classes"].items():
                    out[token] = (info["fqn"], name)
    return out


_PROVIDERS = {"aws": "pulumi_aws", "azure-native": "pulumi_azure_native", "gcp": "pulumi_gcp"}


def args_class(resource_type: str) -> type | None:
    """The `@pulumi.input_type` class of a resource type's inputs, or None if no SDK declares it."""
    if resource_type.startswith("pulumi:providers:"):
        package = _PROVIDERS.get(resource_type.removeprefix("pulumi:providers:"))
        return getattr(importlib.import_module(package), "ProviderArgs", None) if package else None
    found = _classes().get(resource_type)
    if found is None:
        return None
    module, name = found
    resource = getattr(importlib.import_module(module), name)
    home = importlib.import_module(resource.__module__)
    # `<Name>InitArgs` where a nested type of the same module already took `<Name>Args`.
    for candidate in (f"{name}InitArgs", f"{name}Args"):
        cls = getattr(home, candidate, None)
        if cls is not None and cls.__module__ == home.__name__:
            return cls
    return None


@functools.cache
def properties(cls: type) -> dict[str, Schema]:
    """camelCase name -> type hint of every property of an input type."""
    return dict(_types._raw_return_hints(cls))


@functools.cache
def required(cls: type) -> frozenset[str]:
    """camelCase names of the properties the input type requires."""
    return _types._required_property_names(cls)


def _alternatives(hint: Schema) -> list[Schema]:
    """The value types a hint admits: Input/Optional/Output/Awaitable wrappers taken apart."""
    if typing.get_origin(hint) is typing.Union:
        out: list[Schema] = []
        for arg in typing.get_args(hint):
            out += _alternatives(arg)
        return out
    origin = typing.get_origin(hint)
    if hint is type(None) or origin in (collections.abc.Awaitable, typing.Awaitable):
        return []
    if origin is pulumi.Output:
        return _alternatives(typing.get_args(hint)[0])
    return [hint]


def _is_enum(hint: Schema) -> bool:
    return isinstance(hint, type) and issubclass(hint, enum.Enum)


def _kind(hint: Schema) -> str:
    origin = typing.get_origin(hint) or hint
    if isinstance(hint, type) and _types.is_input_type(hint):
        return "object"
    if origin in (list, collections.abc.Sequence, typing.Sequence, typing.List):  # noqa: UP006
        return "list"
    if origin in (dict, collections.abc.Mapping, typing.Mapping, typing.Dict):  # noqa: UP006
        return "map"
    if _is_enum(hint):
        return "enum"
    if hint in (str, bool, int, float):
        return hint.__name__
    if hint is Any:
        return "any"
    return "other"  # assets, archives, resources: not checked further


def _name(hint: Schema) -> str:
    return getattr(hint, "__name__", None) or str(hint)


def problems(resource_type: str, inputs: dict) -> list[str]:
    """What in a resource's recorded inputs its provider schema does not allow (empty: conforms).
    A type no installed SDK declares is one problem."""
    cls = args_class(resource_type)
    if cls is None:
        return [f"{resource_type}: no installed provider SDK declares this resource type"]
    out: list[str] = []
    _object(cls, inputs, "", out, provider=resource_type.startswith("pulumi:providers:"))
    return out


def _object(cls: type, value: dict, path: str, out: list[str], provider: bool = False) -> None:
    props = properties(cls)
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key not in props:
            close = [p for p in props if p.lower() == key.lower()]
            hint = f" (did you mean {close[0]}?)" if close else ""
            out.append(f"{where}: not a property of {cls.__name__}{hint}")
            continue
        if provider and isinstance(item, str):
            continue  # the engine sends a provider's non-string config JSON-encoded
        _value(props[key], item, where, out)
    for key in sorted(required(cls) - set(value)):
        out.append(f"{path + '.' if path else ''}{key}: required by {cls.__name__} but absent")


def _value(hint: Schema, value: Any, path: str, out: list[str]) -> None:
    if value is None or is_unknown(value):
        return
    alternatives = _alternatives(hint)
    kinds = {_kind(a): a for a in alternatives}
    if not alternatives or "any" in kinds or "other" in kinds:
        return
    if isinstance(value, dict):
        if "object" in kinds:
            _object(kinds["object"], value, path, out)
        elif "map" in kinds:
            args = typing.get_args(kinds["map"])
            for key, item in value.items():
                _value(args[1] if len(args) == 2 else Any, item, f"{path}.{key}", out)
        else:
            out.append(f"{path}: an object where the schema takes {' or '.join(map(_name, alternatives))}")
    elif isinstance(value, list):
        if "list" in kinds:
            args = typing.get_args(kinds["list"])
            for i, item in enumerate(value):
                _value(args[0] if args else Any, item, f"{path}[{i}]", out)
        else:
            out.append(f"{path}: a list where the schema takes {' or '.join(map(_name, alternatives))}")
    elif isinstance(value, bool):
        if "bool" not in kinds:
            out.append(f"{path}: a boolean where the schema takes {' or '.join(map(_name, alternatives))}")
    elif isinstance(value, (int, float)):
        if "float" in kinds or ("int" in kinds and float(value).is_integer()):
            return
        out.append(f"{path}: the number {value!r} where the schema takes {' or '.join(map(_name, alternatives))}")
    elif isinstance(value, str):
        if "enum" in kinds and "str" not in kinds:
            members = [m.value for m in kinds["enum"]]
            if value not in members:
                out.append(f"{path}: {value!r} is not one of {kinds['enum'].__name__} ({', '.join(map(str, members))})")
            return
        if "str" in kinds:
            return
        out.append(f"{path}: the string {value!r} where the schema takes {' or '.join(map(_name, alternatives))}")
    else:
        out.append(f"{path}: a {type(value).__name__} where the schema takes {' or '.join(map(_name, alternatives))}")
