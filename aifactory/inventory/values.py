"""Values as the engine hands them to an analyzer: unknown-at-preview sentinels, absent values,
numbers and booleans in the several encodings providers use, and plain containers out of proxies."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

# What "unknown at preview" looks like: the recorder's marker (aifactory.recording.UNKNOWN) and the
# engine's wire sentinels (pulumi.runtime.rpc.UNKNOWN and the typed ones pulumi_policy knows).
RECORDED_UNKNOWN = "<unknown>"
UNKNOWN_SENTINELS = frozenset(
    {
        RECORDED_UNKNOWN,
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string (the SDK's rpc.UNKNOWN)
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Marker("UNKNOWN")  # a value that exists but is not known at preview
MISSING: Any = _Marker("MISSING")  # no value at all


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in UNKNOWN_SENTINELS)


def lookup(data: Any, *path: str | int) -> Any:
    """The value at `path` inside `data`; UNKNOWN if it or a container on the way is unknown,
    MISSING if it is absent."""
    value = data
    for key in path:
        if value in UNKNOWN_SENTINELS if type(value) is str else type(value) is not dict and is_unknown(value):
            return UNKNOWN
        if (type(value) is dict or type(value) in FIELD_VIEWS) and type(key) is str:  # the common case, as below
            value = value.get(key)
            if value is None:
                return MISSING
            continue
        if isinstance(key, int):
            if not isinstance(value, (list, tuple)) or not -len(value) <= key < len(value):
                return MISSING
            value = value[key]
        else:
            if not isinstance(value, Mapping) or key not in value or value[key] is None:
                return MISSING
            value = value[key]
    if value in UNKNOWN_SENTINELS if type(value) is str else type(value) is not dict and is_unknown(value):
        return UNKNOWN
    return value


def as_int(value: Any) -> Any:
    """A count from the engine (numbers arrive as floats, some SDKs send numeric strings)."""
    number = as_float(value)
    return number if number is UNKNOWN or number is MISSING else int(round(number))


def as_float(value: Any) -> Any:
    """A number from the engine; MISSING for no value, UNKNOWN for one that is unknown at preview
    or that is there but cannot be read as a number (a gate fails closed on it, never counts it 0)."""
    if value is UNKNOWN or value is MISSING or value is None:
        return MISSING if value is None else value
    if isinstance(value, bool):
        return UNKNOWN
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else UNKNOWN
    if isinstance(value, str):
        if is_unknown(value):
            return UNKNOWN
        try:
            number = float(value.strip())
        except ValueError:
            return UNKNOWN
        return number if math.isfinite(number) else UNKNOWN
    return UNKNOWN


def as_bool(value: Any) -> Any:
    """Booleans as the providers send them: true/false, or "true"/"false" (AWS launch templates)."""
    if value is UNKNOWN or value is MISSING:
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return MISSING


def as_mapping(value: Any) -> Any:
    """A map input; provider config arrives JSON-encoded (`defaultTags: "{\\"tags\\": ...}"`)."""
    if value is UNKNOWN or value is MISSING:
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return MISSING
    return value if isinstance(value, Mapping) else MISSING


_SCALARS = (str, int, float, bool, type(None))
_DICT_PROXIES = ("_DictProxy", "_DictSecretsProxy")
_LIST_PROXIES = ("_ListProxy", "_ListSecretsProxy")
# Registered by the policy pack (aifactory.policies.conversion): read-only mappings whose fields are
# converted when first read, read here as dicts are (`FIELD_VIEWS`), and the property mappings that
# give such a view (`VIEWABLE`).
FIELD_VIEWS: set[type] = set()
VIEWABLE: set[type] = set()


def plain(value: Any) -> Any:
    """Plain dicts and lists from whatever mapping/sequence proxies carry them (pulumi_policy wraps
    inputs in proxies that raise on unknown values; reading through them here never raises).
    Plain dicts and lists (the recorder's, JSON's) are returned as they are. The pack's lazily
    converted properties (`aifactory.policies.conversion.LazyProperties`) give their plain view, a
    read-only mapping whose fields are converted when first read."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    if kind in FIELD_VIEWS:
        return value
    if kind in VIEWABLE:
        return value.view()
    name = kind.__name__
    if name in _DICT_PROXIES:
        # Most members are scalars: keep them without a call (what plain() would return).
        return {k: v if type(v) in _PLAIN_TYPES else plain(v) for k, v in value["__target"].items()}
    if name in _LIST_PROXIES:
        return [v if type(v) in _PLAIN_TYPES else plain(v) for v in value["__target"]]
    if isinstance(value, Mapping):
        return {k: plain(value[k]) for k in value}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


_PLAIN_TYPES = frozenset({*_SCALARS, dict, list})

