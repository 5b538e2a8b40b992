"""Run a Pulumi program in-process under the SDK's mock monitor and record every registration.

This is the first half of the offline engine (see DESIGN.md, ``aifactory/preview.py``): the
program is executed by the real Pulumi Python SDK as the language host runs it
(``pulumi.runtime.run_in_stack`` in a fresh event loop, on a worker thread, inside a fresh
``contextvars`` context -- the way ``pulumi.automation``'s inline-program server does), but its
resource monitor is a :class:`RecordingMonitor` -- a subclass of the SDK's own ``MockMonitor`` --
instead of the engine. Every ``RegisterResource`` request is recorded as the engine would receive
it (the root ``pulumi:pulumi:Stack`` and component resources included):

* URNs are computed with the engine's rule (the parent's full qualified type, except that the
  root ``pulumi:pulumi:Stack`` never appears in a child's type), not ``MockMonitor.make_urn``'s
  simplification;
* ``inputs`` is the request's protobuf ``Struct`` turned into plain Python: camelCase keys as the
  SDK sends them, numbers as floats (protobuf ``Value`` has only doubles), secrets unwrapped,
  resource references reduced to the ID (or URN) the engine hands to analyzers, and every unknown
  value -- the SDK's sentinel ``04da6b54-80e4-46f7-96ec-b56ff0331ba9`` -- replaced by
  :data:`UNKNOWN`;
* provider references lose their ``::<id>`` suffix.

The default mocks (:class:`RecordingMocks`): a custom resource gets the ID ``<name>_id`` and its
inputs back as its state (output-only properties therefore stay unknown during a preview); an
invoke returns ``{}`` and its token is kept in :attr:`ProgramRun.invokes`.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import logging
import os
import runpy
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from google.protobuf import empty_pb2, struct_pb2

import pulumi.runtime
from pulumi._utils import ContextProperty
from pulumi.runtime import rpc
from pulumi.runtime import settings as _settings
from pulumi.runtime.mocks import MockCallArgs, MockEngine, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.proto import engine_pb2, resource_pb2

__all__ = [
    "UNKNOWN",
    "SDK_UNKNOWN",
    "ROOT_STACK_TYPE",
    "RecordedResource",
    "ProgramRun",
    "RecordingMocks",
    "RecordingMonitor",
    "run_program",
    "is_unknown",
    "contains_unknown",
]

UNKNOWN = "<unknown>"
"""Marker for a value that is not known during a preview (the SDK sends :data:`SDK_UNKNOWN`)."""

SDK_UNKNOWN: str = rpc.UNKNOWN
"""The wire sentinel for unknown values (``04da6b54-80e4-46f7-96ec-b56ff0331ba9``)."""

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"

_SIG = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig
_RESOURCE_SIG = rpc._special_resource_sig
_OUTPUT_SIG = rpc._special_output_value_sig


def is_unknown(value: Any) -> bool:
    """True if ``value`` is the unknown marker (or the raw SDK sentinel)."""
    return isinstance(value, str) and (value == UNKNOWN or value == SDK_UNKNOWN)


def contains_unknown(value: Any) -> bool:
    """True if ``value`` is unknown or holds an unknown anywhere inside it."""
    if isinstance(value, str):
        return is_unknown(value)
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


# --------------------------------------------------------------------------------------------
# Struct -> plain Python, the engine's view
# --------------------------------------------------------------------------------------------


def _plain_struct(struct: struct_pb2.Struct) -> Any:
    fields = struct.fields
    if _SIG in fields:
        return _plain_special(fields)
    return {k: _plain_value(v) for k, v in fields.items()}


def _plain_value(v: struct_pb2.Value) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "string_value":
        s = v.string_value
        return UNKNOWN if s == SDK_UNKNOWN else s
    if kind == "struct_value":
        return _plain_struct(v.struct_value)
    if kind == "number_value":
        return v.number_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "list_value":
        return [_plain_value(x) for x in v.list_value.values]
    return None


def _plain_special(fields) -> Any:
    sig = fields[_SIG].string_value
    if sig == _SECRET_SIG:
        # The engine keeps the secret bit; analyzers and our readers see the plain value.
        return _plain_value(fields["value"]) if "value" in fields else UNKNOWN
    if sig == _RESOURCE_SIG:
        # What MarshalProperties(KeepResources=false) hands an analyzer: the ID of a custom
        # resource (unknown if the ID is not known yet), else the URN.
        if "id" in fields:
            rid = fields["id"].string_value
            return UNKNOWN if rid in ("", SDK_UNKNOWN) else rid
        return fields["urn"].string_value
    if sig == _OUTPUT_SIG:
        return _plain_value(fields["value"]) if "value" in fields else UNKNOWN
    # Assets and archives keep their signature so they stay recognisable.
    return {k: _plain_value(v) for k, v in fields.items()}


def _strip_provider_ref(ref: str) -> Optional[str]:
    if not ref:
        return None
    sep = ref.rfind("::")
    return ref[:sep] if sep > 0 else ref


def _qualified_type(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<qualified type>::<name>
    return urn.split("::", 3)[2]


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass
class RecordedResource:
    """One ``RegisterResource`` request, as the engine receives it."""

    urn: str
    type: str
    name: str
    parent: Optional[str]
    provider: Optional[str]
    custom: bool
    protect: bool
    retain_on_delete: bool
    inputs: dict
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    # Further options the engine forwards to analyzers (AnalyzerResourceOptions).
    delete_before_replace: Optional[bool] = None
    ignore_changes: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)
    custom_timeouts: Optional[dict[str, str]] = None  # {"create": "10m", ...} as sent (Go durations)
    version: str = ""  # package version the SDK asked for ("" for components)
    import_id: str = ""
    aliases: list[str] = field(default_factory=list)
    """The resource's own aliases as URNs, as the engine resolves them (an alias spec's unset name,
    type, stack, project and parent are the resource's own) and hands them to analyzers."""

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")

    def to_json(self) -> dict:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "provider": self.provider,
            "custom": self.custom,
            "protect": self.protect,
            "inputs": self.inputs,
            "dependencies": self.dependencies,
            "propertyDependencies": self.property_dependencies,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "RecordedResource":
        return cls(
            urn=data["urn"],
            type=data["type"],
            name=data["name"],
            parent=data.get("parent"),
            provider=data.get("provider"),
            custom=bool(data.get("custom", True)),
            protect=bool(data.get("protect", False)),
            retain_on_delete=bool(data.get("retainOnDelete", False)),
            inputs=dict(data.get("inputs") or {}),
            dependencies=list(data.get("dependencies") or []),
            property_dependencies={
                k: list(v) for k, v in (data.get("propertyDependencies") or {}).items()
            },
        )


@dataclass
class ProgramRun:
    project: str
    stack: str
    resources: list[RecordedResource]
    outputs: dict
    invokes: list[str] = field(default_factory=list)
    """Tokens of every invoke the program made (each answered with ``{}``)."""
    reads: list[str] = field(default_factory=list)
    """URNs of resources read with ``Resource.get`` (ReadResource), not registered."""
    logs: list[dict] = field(default_factory=list)
    """``pulumi.log`` messages: ``{"severity": "warning", "message": ..., "urn": ...}``."""

    def by_urn(self) -> dict[str, RecordedResource]:
        return {r.urn: r for r in self.resources}

    def custom_resources(self) -> list[RecordedResource]:
        return [r for r in self.resources if r.custom and not r.is_provider]

    def providers(self) -> list[RecordedResource]:
        return [r for r in self.resources if r.is_provider]

    def to_json(self) -> dict:
        return {
            "project": self.project,
            "stack": self.stack,
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
        }


# --------------------------------------------------------------------------------------------
# Mocks, monitor, engine
# --------------------------------------------------------------------------------------------


class RecordingMocks(Mocks):
    """The default mocks: ID ``<name>_id``, inputs as state; invokes return ``{}``."""

    def __init__(self, known_ids: bool = True) -> None:
        self.known_ids = known_ids

    def new_resource(self, args: MockResourceArgs) -> tuple[Optional[str], dict]:
        return (f"{args.name}_id" if self.known_ids else ""), args.inputs

    def call(self, args: MockCallArgs) -> tuple[dict, Optional[list[tuple[str, str]]]]:
        return {}, []


class RecordingMonitor(MockMonitor):
    """A ``MockMonitor`` that records every request as the engine would receive it.

    Without ``mocks``, ``RegisterResource`` implements :class:`RecordingMocks` semantics directly
    on the wire: the response's state *is* the request's ``object`` Struct (inputs as state), so
    no deserialize/serialize round trip is paid -- recording costs one Struct-to-dict copy. Given
    ``mocks``, registrations are answered by ``mocks.new_resource`` as ``MockMonitor`` does.
    """

    def __init__(self, project: str, stack: str, mocks: Optional[Mocks] = None, *, known_ids: bool = True):
        super().__init__(mocks if mocks is not None else RecordingMocks(known_ids))
        self._echo_inputs = mocks is None
        self.project = project
        self.stack = stack
        self.known_ids = known_ids
        self.records: list[RecordedResource] = []
        self.outputs: dict[str, dict] = {}
        self.invokes: list[str] = []
        self.reads: list[str] = []
        self._objects: dict[str, tuple[str, struct_pb2.Struct]] = {}
        self._lock = threading.Lock()

    # The engine's URN rule (pkg/resource/deploy: Deployment.generateURN).
    def make_urn(self, parent: str, type_: str, name: str) -> str:
        if parent:
            ptype = _qualified_type(parent)
            if ptype != ROOT_STACK_TYPE:
                type_ = ptype + "$" + type_
        return f"urn:pulumi:{self.stack}::{self.project}::{type_}::{name}"

    def _alias_urn(self, alias, request) -> str:
        # pkg/resource/deploy/step_generator.go collapseAliasToUrn
        if alias.urn:
            return alias.urn
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        urn = self.make_urn(parent, spec.type or request.type, spec.name or request.name)
        if spec.stack or spec.project:
            _, rest = urn.split("::", 1)
            urn = f"urn:pulumi:{spec.stack or self.stack}::{spec.project or self.project}::{rest.split('::', 1)[1]}"
        return urn

    def RegisterResource(self, request):
        urn = self.make_urn(request.parent, request.type, request.name)
        obj = request.object
        ct = request.customTimeouts if request.HasField("customTimeouts") else None
        rec = RecordedResource(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            provider=_strip_provider_ref(request.provider),
            custom=bool(request.custom),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            inputs=_plain_struct(obj),
            dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            delete_before_replace=(
                request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None
            ),
            ignore_changes=list(request.ignoreChanges),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            custom_timeouts=(
                {"create": ct.create, "update": ct.update, "delete": ct.delete} if ct is not None else None
            ),
            version=request.version,
            import_id=request.importId,
            aliases=[self._alias_urn(a, request) for a in request.aliases],
        )
        with self._lock:
            if urn in self._objects:
                # The engine refuses a second registration of the same URN.
                raise Exception(f"Duplicate resource URN '{urn}'; try giving it a unique name")
            self._objects[urn] = ("", obj)
            self.records.append(rec)

        if request.type == ROOT_STACK_TYPE:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        if not self._echo_inputs:
            response = super().RegisterResource(request)
            with self._lock:
                self._objects[urn] = (response.id, response.object)
            return response
        rid = f"{request.name}_id" if request.custom and self.known_ids else ""
        with self._lock:
            self._objects[urn] = (rid, obj)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=rid, object=obj)

    def RegisterResourceOutputs(self, request):
        outs = _plain_struct(request.outputs)
        with self._lock:
            self.outputs[request.urn] = outs
        return empty_pb2.Empty()

    def Invoke(self, request):
        if request.tok == "pulumi:pulumi:getResource":
            urn = request.args.fields["urn"].string_value
            with self._lock:
                known = self._objects.get(urn)
            if known is None:
                raise Exception(f"unknown resource {urn}")
            ret = struct_pb2.Struct()
            ret.fields["urn"].string_value = urn
            ret.fields["id"].string_value = known[0]
            ret.fields["state"].struct_value.CopyFrom(known[1])
            return resource_pb2.ResourceInvokeResponse(**{"return": ret})
        with self._lock:
            self.invokes.append(request.tok)
        return super().Invoke(request)

    def ReadResource(self, request):
        resp = super().ReadResource(request)
        with self._lock:
            self.reads.append(resp.urn)
            self._objects.setdefault(resp.urn, (request.id, resp.properties))
        return resp

    def RequirePulumiVersion(self, request):  # pragma: no cover - trivial
        return empty_pb2.Empty()


class _RecordingEngine(MockEngine):
    _NAMES = {
        engine_pb2.DEBUG: "debug",
        engine_pb2.INFO: "info",
        engine_pb2.WARNING: "warning",
        engine_pb2.ERROR: "error",
    }

    def __init__(self, logger: Optional[logging.Logger] = None) -> None:
        super().__init__(logger or logging.getLogger("aifactory.program"))
        self.logs: list[dict] = []

    def Log(self, request):
        if request.severity == engine_pb2.DEBUG:
            # The SDK logs several debug lines per resource; keep only what a user would see.
            return super().Log(request)
        self.logs.append(
            {
                "severity": self._NAMES.get(request.severity, str(request.severity)),
                "message": request.message,
                "urn": request.urn or None,
            }
        )
        return super().Log(request)

    def RequirePulumiVersion(self, request):  # pragma: no cover - trivial
        return empty_pb2.Empty()


# --------------------------------------------------------------------------------------------
# Running a program
# --------------------------------------------------------------------------------------------

Program = Union[Callable[[], Any], Path, str]


def _ordered(records: list[RecordedResource]) -> list[RecordedResource]:
    """Deterministic tree order: the stack, then every resource followed by its children.

    Registration order depends on thread timing; siblings are ordered providers first, then by
    URN, so two runs of the same program produce the same list.
    """
    children: dict[Optional[str], list[RecordedResource]] = {}
    urns = {r.urn for r in records}
    for r in records:
        parent = r.parent if r.parent in urns else None
        children.setdefault(parent, []).append(r)
    for group in children.values():
        group.sort(key=lambda r: (r.type != ROOT_STACK_TYPE, not r.is_provider, r.urn))
    out: list[RecordedResource] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        r = stack.pop()
        out.append(r)
        stack.extend(reversed(children.get(r.urn, [])))
    return out


def _loop_exception_handler(loop, context) -> None:
    # Failures are re-raised by run_pulumi_func; stray "exception was never retrieved" noise is not.
    logging.getLogger("aifactory.recording").debug("asyncio: %s", context.get("message"))


def _program_callable(program: Program) -> tuple[Callable[[], Any], Optional[Path]]:
    if callable(program):
        return program, None
    path = Path(program)
    if path.is_dir():
        path = path / "__main__.py"
    if not path.is_file():
        raise FileNotFoundError(f"no Pulumi program at {path}")
    path = path.resolve()

    def run_main() -> None:
        runpy.run_path(str(path), run_name="__main__")

    return run_main, path.parent


def run_program(
    program: Program,
    *,
    project: str,
    stack: str,
    config: Optional[Mapping[str, str]] = None,
    preview: bool = True,
    organization: str = "organization",
    secret_keys: Optional[Iterable[str]] = None,
    known_ids: bool = True,
    chdir: bool = True,
    logger: Optional[logging.Logger] = None,
    mocks: Optional[Mocks] = None,
) -> ProgramRun:
    """Run ``program`` under the recording monitor and return everything it registered.

    ``program`` is a callable (an inline program) or the path of a ``__main__.py`` (or of the
    directory holding it), executed with :func:`runpy.run_path` with its directory first on
    ``sys.path`` and, if ``chdir``, as the working directory -- as the language host runs it.
    ``config`` is the stack config with fully qualified keys (``{"aifactory:facility": "<json>"}``),
    set with ``pulumi.runtime.set_all_config``.

    ``known_ids=False`` answers every new custom resource with an unknown ID, as a real preview
    of a new stack does; by default IDs are ``<name>_id``. ``mocks`` replaces the default
    answers (ID ``<name>_id``, inputs as state) with your own ``pulumi.runtime.Mocks``.
    Non-string config values are JSON-encoded.

    Any exception raised by the program (or by a registration) propagates.
    """
    user_func, program_dir = _program_callable(program)

    async def func() -> None:
        result = user_func()
        if inspect.isawaitable(result):
            await result
        # Let the registrations the program queued start before run_pulumi_func looks for
        # outstanding RPCs. Otherwise it finds none yet and falls through to waiting on every
        # Output with asyncio.wait(FIRST_COMPLETED) -- quadratic in the number of outputs (an SDK
        # quirk that made a 2,000-resource program twice as slow as a bare set_mocks run).
        await asyncio.sleep(0)

    monitor = RecordingMonitor(project, stack, mocks, known_ids=known_ids)
    engine = _RecordingEngine(logger)

    def run() -> None:
        # Everything the SDK keeps in ContextVars (settings, root resource, config) is set inside
        # this fresh context, so nothing leaks into the caller or into the next run.
        pulumi.runtime.reset_options(
            project=project,
            stack=stack,
            preview=preview,
            organization=organization,
            root_directory=str(program_dir) if program_dir else None,
        )
        _settings.SETTINGS.monitor = monitor
        _settings.SETTINGS.engine = engine
        pulumi.runtime.set_all_config(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in (config or {}).items()},
            list(secret_keys) if secret_keys else None,
        )

        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_loop_exception_handler)
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(pulumi.runtime.run_in_stack(func))
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()

    saved_path = list(sys.path)
    saved_cwd = os.getcwd()
    saved_defaults = _settings_defaults()
    try:
        if program_dir is not None:
            sys.path.insert(0, str(program_dir))
            if chdir:
                os.chdir(program_dir)
        # The SDK gets an event loop of its own on a thread of its own: the caller's thread keeps
        # its event-loop state untouched (and run_program works when called from async code).
        ctx = contextvars.copy_context()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="aifactory-program") as pool:
            pool.submit(ctx.run, run).result()
    finally:
        _restore_settings_defaults(saved_defaults)
        if program_dir is not None:
            sys.path[:] = saved_path
            if chdir:
                os.chdir(saved_cwd)

    root_urn = f"urn:pulumi:{stack}::{project}::{ROOT_STACK_TYPE}::{project}-{stack}"
    return ProgramRun(
        project=project,
        stack=stack,
        resources=_ordered(monitor.records),
        outputs=monitor.outputs.get(root_urn, {}),
        invokes=list(monitor.invokes),
        reads=list(monitor.reads),
        logs=list(engine.logs),
    )


def _settings_defaults() -> dict[str, Any]:
    # pulumi._utils.ContextProperty.fset makes the first value set over None the property's
    # process-wide default, so a run would otherwise leave its monitor (and every record it holds)
    # visible to any context that never configured the SDK, e.g. a fresh thread.
    return {
        name: prop._ContextProperty__default
        for name, prop in vars(_settings.Settings).items()
        if isinstance(prop, ContextProperty)
    }


def _restore_settings_defaults(saved: Mapping[str, Any]) -> None:
    for name, default in saved.items():
        vars(_settings.Settings)[name]._ContextProperty__default = default
