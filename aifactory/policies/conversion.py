"""Convert a request's properties once per request, and only the fields a policy reads.

pulumi_policy turns a request's protobuf properties into Python (`MessageToDict`, then
`deserialize_properties`, then `unknown_checking_proxy`) again for every policy it runs, and for
`AnalyzeStack` again for every resource per stack policy -- all of every resource, although the
stack rules read a few fields of a few resource types. `share_conversions()` changes two things
while a request is served (per thread, as the gRPC server serves requests on a pool):

* the three steps remember their result for the request, so every policy reads the same values;
* a resource's properties (a `google.protobuf.Struct`) become a `LazyProperties`: the same mapping
  the SDK's proxy is (same keys, same values, the same `UnknownValueError` on an unknown value),
  whose fields are converted -- by the SDK's own functions, field by field -- when first read.

It also installs `stack_once` (AnalyzeStack building the resources once for all stack policies).
The values and so the verdicts are the same; only work nobody reads goes. Where the installed SDK
does not have the names this relies on, nothing changes.
"""

from __future__ import annotations

import gc
import math
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Callable

from aifactory.inventory import values

_local = threading.local()
_MISSING = object()


class LazyProperties(Mapping):
    """A resource's properties as pulumi_policy hands them to a policy, converted when read.

    `props[key]` behaves as the SDK's unknown-checking proxy does (nested values proxied, an unknown
    value raises `UnknownValueError`); `field(key)` and `view()` give the plain converted values
    (dicts, lists, scalars, unknown sentinels as strings) for readers that name unknowns themselves."""

    __slots__ = ("_struct", "_fields", "_converted", "_sdk")

    def __init__(self, struct: Any, sdk: _Sdk) -> None:
        self._struct = struct  # holds the request message alive
        self._fields: Any = None  # the Struct's field map, taken when first needed
        self._converted: dict[str, Any] = {}  # key -> value, or _MISSING for a key looked up but absent
        self._sdk = sdk

    def _field_map(self) -> Any:
        if self._fields is None:
            self._fields = self._struct.fields
        return self._fields

    def get_field(self, key: str, default: Any = None) -> Any:
        """The field's value as `deserialize_properties(MessageToDict(...))` gives it, else `default`."""
        value = self._converted.get(key, self)
        if value is self:
            fields = self._field_map()
            # Indexing a protobuf message map would add the key: look before taking.
            value = self._sdk.convert(fields[key]) if key in fields else _MISSING
            self._converted[key] = value
        return default if value is _MISSING else value

    def field(self, key: str) -> Any:
        value = self.get_field(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def view(self) -> FieldView:
        return FieldView(self)

    def __getitem__(self, key: str) -> Any:
        if key == "__target":  # what the SDK's proxy answers: the proxied fields
            return {k: self._sdk.proxy(self.field(k), [k]) for k in self._field_map()}
        return self._sdk.raise_if_unknown(key, self._sdk.proxy(self.field(key), [key]), [])

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        value = self._converted.get(key, self)
        return key in self._field_map() if value is self else value is not _MISSING

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._field_map()))

    def __len__(self) -> int:
        return len(self._field_map())


class FieldView(Mapping):
    """The plain values of a `LazyProperties` (no proxies), converted field by field when read."""

    __slots__ = ("_props", "get")

    def __init__(self, props: LazyProperties) -> None:
        self._props = props
        self.get = props.get_field

    def view(self) -> FieldView:
        return self

    def __getitem__(self, key: str) -> Any:
        return self._props.field(key)

    def __contains__(self, key: object) -> bool:
        return key in self._props

    def __iter__(self) -> Iterator[str]:
        return iter(self._props)

    def __len__(self) -> int:
        return len(self._props)

    def __repr__(self) -> str:
        return f"FieldView({dict(self)!r})"


values.FIELD_VIEWS.add(FieldView)
values.VIEWABLE.add(LazyProperties)


class _Sdk:
    """What a `LazyProperties` converts and proxies with: a field's `Value` -> Python conversion
    and the SDK's own deserializer and proxy functions (the originals, unwrapped)."""

    def __init__(self, to_python: Callable, deserialize_property: Callable, proxy: Callable, raise_if_unknown: Callable):
        self._to_python = to_python
        self.deserialize_property = deserialize_property
        self.proxy = proxy
        self.raise_if_unknown = raise_if_unknown

    def convert(self, value: Any) -> Any:
        """One field: `deserialize_properties(MessageToDict(struct))[key]`, for that key alone."""
        return self.deserialize_property(self._to_python(value))


def value_to_python(value: Any) -> Any:
    """A `google.protobuf.Value` as `json_format.MessageToDict` gives it (the Proto3 JSON mapping of
    Struct, ListValue and Value: numbers as floats, infinities and NaN refused), without its
    generic per-field descriptor walk."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "struct_value":
        fields = value.struct_value.fields
        return {key: value_to_python(fields[key]) for key in fields}
    if kind == "list_value":
        return [value_to_python(v) for v in value.list_value.values]
    if kind == "number_value":
        number = value.number_value
        if math.isinf(number):
            raise ValueError("Fail to serialize Infinity for Value.number_value, which would parse as string_value")
        if math.isnan(number):
            raise ValueError("Fail to serialize NaN for Value.number_value, which would parse as string_value")
        return number
    if kind == "bool_value":
        return value.bool_value
    return None  # null_value, or no kind set



def _lazy_structs(message_to_dict: Callable[..., Any], sdk: _Sdk) -> Callable[..., Any]:
    """MessageToDict that, while a request is served, leaves a Struct's fields for later."""
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct

    def convert(message: Any, *args: Any, **kwargs: Any) -> Any:
        if type(message) is struct and not args and not kwargs and getattr(_local, "serving", False):
            return LazyProperties(message, sdk)
        return message_to_dict(message, *args, **kwargs)

    return convert


def _passing_lazy(convert: Callable[..., Any]) -> Callable[..., Any]:
    """deserialize_properties / unknown_checking_proxy: a LazyProperties already is their result."""

    def pass_or_convert(value: Any, *args: Any, **kwargs: Any) -> Any:
        if type(value) is LazyProperties and not args and not kwargs:
            return value
        return convert(value, *args, **kwargs)

    return pass_or_convert


class _JsonFormat:
    """`google.protobuf.json_format` as pulumi_policy sees it, with MessageToDict replaced."""

    def __init__(self, module: Any, message_to_dict: Callable[..., Any]) -> None:
        self._module = module
        self.MessageToDict = message_to_dict

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


_gc_lock = threading.Lock()
_gc_pauses = 0  # requests being served with the collector paused
_gc_was_enabled = False


def _pause_collector() -> None:
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1


def _resume_collector() -> None:
    global _gc_pauses
    with _gc_lock:
        _gc_pauses -= 1
        if _gc_pauses == 0 and _gc_was_enabled:
            gc.enable()


def _per_request(method: Callable[..., Any]) -> Callable[..., Any]:
    """Serve a request with lazy properties and the cyclic garbage collector paused: a request makes
    hundreds of thousands of short-lived objects, and every automatic collection they trigger walks
    all the objects the pack holds -- a third of a 10,000-resource AnalyzeStack. Reference counting
    still frees them at once; only cycles wait for the next collection after the request."""

    def serve(self: Any, request: Any, context: Any) -> Any:
        _local.serving = True
        _pause_collector()
        try:
            return method(self, request, context)
        finally:
            _resume_collector()
            _local.serving = False

    return serve


def share_conversions() -> bool:
    """Install the per-request memory and lazy properties in pulumi_policy; True if installed."""
    from pulumi_policy import deserialize as sdk_deserialize
    from pulumi_policy import policy as sdk
    from pulumi_policy import proxy as sdk_proxy

    servicer = getattr(sdk, "_PolicyAnalyzerServicer", None)
    needed = ((sdk, "json_format"), (sdk, "deserialize_properties"), (sdk, "unknown_checking_proxy"),
              (sdk_deserialize, "_deserialize_property"), (sdk_proxy, "_proxy_helper"), (sdk_proxy, "_raise_if_unknown"))
    if servicer is None or not all(hasattr(module, name) for module, name in needed):
        return False
    if getattr(sdk, "_conversions_shared", False):
        return True
    from aifactory.policies.stack_once import build_stack_resources_once

    build_stack_resources_once()  # before the per-request wrapping below: it checks the SDK's own method
    json_format = sdk.json_format
    lazy_sdk = _Sdk(value_to_python, sdk_deserialize._deserialize_property, sdk_proxy._proxy_helper,
                    sdk_proxy._raise_if_unknown)
    sdk.json_format = _JsonFormat(json_format, _lazy_structs(json_format.MessageToDict, lazy_sdk))
    sdk.deserialize_properties = _passing_lazy(sdk.deserialize_properties)
    sdk.unknown_checking_proxy = _passing_lazy(sdk.unknown_checking_proxy)
    servicer.Analyze = _per_request(servicer.Analyze)
    servicer.AnalyzeStack = _per_request(servicer.AnalyzeStack)
    sdk._conversions_shared = True
    return True
