"""Reading a component's args: one TypedDict per component, the same whether a Python program
builds it or a component provider hands it over (a plain dict of what the caller set).

`read_args` fills the defaults, turns whole-number floats back into ints where the TypedDict says
`int` (every number crosses the provider protocol as a double), expands the components a Python
program may pass in place of their IDs, and answers an attribute namespace the component reads.
`legacy_alias` keeps a deployed stack's resources when a component's type token changes.
"""

import copy
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Optional

import pulumi

Expand = Callable[[Any], Mapping[str, Any]]


class ComponentArgs(types.SimpleNamespace):
    """A component's args, read: every key of its TypedDict is an attribute (None when unset)."""

    def require(self) -> None:
        """Refuse args that left a required key unset (called after the component's own checks,
        so that a refusal names the real problem first)."""
        missing = getattr(self, "_missing", [])
        if missing:
            raise TypeError(f"{self._args_type} needs {', '.join(missing)}")


def read_args(
    args_type: type,
    args: Mapping[str, Any],
    defaults: Optional[Mapping[str, Any]] = None,
    expand: Optional[Mapping[str, Expand]] = None,
) -> ComponentArgs:
    """`args` (a mapping with the keys of the TypedDict `args_type`) as a `ComponentArgs`.

    `expand` maps a Python-only key (e.g. `network`) to a function giving the keys a component
    passed under it stands for (its subnet and security group IDs, ...); keys set explicitly win.
    Unknown keys are refused, so a misspelt key is not silently ignored.
    """
    if not isinstance(args, Mapping):
        raise TypeError(f"{args_type.__name__} is a mapping of its keys (got {type(args).__name__})")
    given = dict(args)
    for key, links in (expand or {}).items():
        if key in given:
            component = given.pop(key)
            if component is not None:
                given = {**links(component), **given}
    hints = args_type.__annotations__
    unknown = sorted(set(given) - set(hints))
    if unknown:
        raise TypeError(f"{args_type.__name__} has no key {', '.join(unknown)}")
    defaults = defaults or {}
    values: dict[str, Any] = {}
    missing = []
    for key, hint in hints.items():
        if key in given and given[key] is not None:
            refuse_outputs(hint, given[key], f"{args_type.__name__}.{key}")
            values[key] = whole_numbers(hint, given[key])
        elif key in defaults:
            values[key] = copy.copy(defaults[key])
        else:
            values[key] = None
            if key in args_type.__required_keys__:
                missing.append(key)
    result = ComponentArgs(**values)
    result._args_type = args_type.__name__
    result._missing = missing
    return result


def whole_numbers(hint: Any, value: Any) -> Any:
    """`value` with every float that `hint` types as `int` turned into that int (16.0 -> 16)."""
    if isinstance(value, pulumi.Output):
        return value
    hint = _unwrapped(hint)
    origin = typing.get_origin(hint)
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    if origin in (list, typing.get_origin(typing.Sequence[int])) and isinstance(value, (list, tuple)):
        (item,) = typing.get_args(hint)
        return [whole_numbers(item, v) for v in value]
    if origin is dict and isinstance(value, Mapping):
        _, item = typing.get_args(hint)
        return {k: whole_numbers(item, v) for k, v in value.items()}
    if typing.is_typeddict(hint) and isinstance(value, Mapping):
        hints = hint.__annotations__
        return {k: whole_numbers(hints[k], v) if k in hints else v for k, v in value.items()}
    return value


def refuse_outputs(hint: Any, value: Any, path: str) -> None:
    """Raise if `value` holds an Output where `hint` asks for a plain value: instance types, node
    counts, zones and sizes are literals the policies read at preview (an output may be unknown)."""
    if _takes_outputs(hint):
        return
    if isinstance(value, pulumi.Output):
        raise TypeError(f"{path} must be a plain value, not an output of another resource (policies read it)")
    hint = _unwrapped(hint)
    origin = typing.get_origin(hint)
    if origin is list and isinstance(value, (list, tuple)):
        (item,) = typing.get_args(hint)
        for i, v in enumerate(value):
            refuse_outputs(item, v, f"{path}[{i}]")
    elif origin is dict and isinstance(value, Mapping):
        _, item = typing.get_args(hint)
        for k, v in value.items():
            refuse_outputs(item, v, f"{path}.{k}")
    elif typing.is_typeddict(hint) and isinstance(value, Mapping):
        hints = hint.__annotations__
        for k, v in value.items():
            if k in hints:
                refuse_outputs(hints[k], v, f"{path}.{k}")


def _takes_outputs(hint: Any) -> bool:
    """True for pulumi.Input[...] and pulumi.Output[...] (optionally inside Optional/NotRequired)."""
    while typing.get_origin(hint) in (typing.NotRequired, typing.Required):
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) is pulumi.Output:
        return True
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(
            typing.get_origin(a) is pulumi.Output or isinstance(a, typing.ForwardRef) or _takes_outputs(a)
            for a in typing.get_args(hint)
            if a is not type(None)
        )
    return False


def _unwrapped(hint: Any) -> Any:
    """The plain type under Optional[...], NotRequired[...], Required[...] and pulumi.Input[...]."""
    while True:
        origin = typing.get_origin(hint)
        if origin in (typing.NotRequired, typing.Required):
            hint = typing.get_args(hint)[0]
        elif origin in (typing.Union, types.UnionType):
            plain = [
                a
                for a in typing.get_args(hint)
                if a is not type(None)
                and typing.get_origin(a) not in (pulumi.Output, typing.get_origin(typing.Awaitable[int]))
                and not isinstance(a, typing.ForwardRef)
            ]
            if len(plain) != 1:
                return hint
            hint = plain[0]
        else:
            return hint


def legacy_alias(opts: Optional[pulumi.ResourceOptions], old_type: str) -> pulumi.ResourceOptions:
    """`opts` plus an alias from the type token a component had before it was served by a
    component provider (`aifactory:<cloud>:<Kind>`), so a deployed stack plans no replacement."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=old_type)]))
