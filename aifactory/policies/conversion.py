"""Convert a request's properties once per request, not once per policy.

pulumi_policy turns a request's protobuf properties into Python (`MessageToDict`, then
`deserialize_properties`, then `unknown_checking_proxy`) again for every policy it runs, and for
`AnalyzeStack` again for every resource per stack policy: with a dozen policies that conversion is
most of the pack's time. `share_conversions()` makes those three steps remember their result for
the request being served (per thread, as the gRPC server serves requests on a pool), so every
policy reads the same converted values. The values and so the verdicts are the same; only the
repeated work goes. Where the installed SDK does not have the names this relies on, nothing changes.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

_local = threading.local()


def _remembered(table: str, convert: Callable[..., Any]) -> Callable[..., Any]:
    def convert_once(value: Any, *args: Any, **kwargs: Any) -> Any:
        memo = getattr(_local, "memo", None)
        if memo is None or args or kwargs:
            return convert(value, *args, **kwargs)
        key = (table, id(value))
        hit = memo.get(key)
        if hit is not None and hit[0] is value:
            return hit[1]
        result = convert(value)
        memo[key] = (value, result)  # holds `value`, so its id is not reused while remembered
        return result

    return convert_once


class _JsonFormat:
    """`google.protobuf.json_format` as pulumi_policy sees it, with MessageToDict remembered."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self.MessageToDict = _remembered("dict", module.MessageToDict)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def _per_request(method: Callable[..., Any]) -> Callable[..., Any]:
    def serve(self: Any, request: Any, context: Any) -> Any:
        _local.memo = {}
        try:
            return method(self, request, context)
        finally:
            _local.memo = None

    return serve


def share_conversions() -> bool:
    """Install the per-request memory in pulumi_policy; True if it is installed."""
    from pulumi_policy import policy as sdk

    servicer = getattr(sdk, "_PolicyAnalyzerServicer", None)
    needed = ("json_format", "deserialize_properties", "unknown_checking_proxy")
    if servicer is None or not all(hasattr(sdk, name) for name in needed):
        return False
    if getattr(sdk, "_conversions_shared", False):
        return True
    sdk.json_format = _JsonFormat(sdk.json_format)
    sdk.deserialize_properties = _remembered("deserialized", sdk.deserialize_properties)
    sdk.unknown_checking_proxy = _remembered("proxy", sdk.unknown_checking_proxy)
    servicer.Analyze = _per_request(servicer.Analyze)
    servicer.AnalyzeStack = _per_request(servicer.AnalyzeStack)
    sdk._conversions_shared = True
    return True
