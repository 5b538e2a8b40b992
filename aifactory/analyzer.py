"""Drive a CrossGuard policy pack over its real gRPC ``pulumirpc.Analyzer`` interface.

This is the second half of the offline engine: the policy pack is started as its own process the
way the Pulumi CLI starts a Python pack, and it is asked exactly what the engine asks it.

Launch (mirrors ``NewPolicyAnalyzer`` + the ``pulumi-analyzer-policy-python`` shim)::

    <python> -u -m pulumi.policy <engine-address> .      # cwd = the pack directory

with ``PULUMI_CONFIG`` (stack config as a JSON object), ``PULUMI_PROJECT``, ``PULUMI_STACK``,
``PULUMI_DRY_RUN`` (``true``/``false``) and ``PULUMI_ORGANIZATION`` in the environment, and the
project root prepended to ``PYTHONPATH``. ``pulumi.policy`` runs the pack's ``__main__.py``; the
``PolicyPack(...)`` constructor starts a gRPC server on ``127.0.0.1:0`` and prints its port on
stdout. The engine address argument is parsed but never dialled by the Python policy runtime
(its ``pulumi.log`` goes to stderr), so no fake Engine service is needed.

Conversation (mirrors the engine): ``Handshake`` (UNIMPLEMENTED by pulumi_policy, tolerated),
``ConfigureStack``, ``GetAnalyzerInfo``, ``GetPluginInfo``, ``Configure`` with the *reconciled*
policy config (every policy: its enforcement level and schema defaults, then the pack's initial
config, then the given file's values, "all" first), then ``Remediate`` (only when a policy is
configured ``remediate``) and ``Analyze`` per resource, and ``AnalyzeStack`` once.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import grpc
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2

from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from .recording import SDK_UNKNOWN, UNKNOWN

__all__ = [
    "ENFORCEMENT_LEVELS",
    "PolicyInfo",
    "Violation",
    "PolicyPackClient",
    "PolicyPackError",
    "PolicyConfigError",
    "analyze_all",
    "parse_policy_config",
]

ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")

_LEVEL_TO_PROTO = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
_PROTO_TO_LEVEL = {v: k for k, v in _LEVEL_TO_PROTO.items()}
_SEVERITY = {
    analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED: "",
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}
_POLICY_TYPE = {
    analyzer_pb2.POLICY_TYPE_UNKNOWN: "",
    analyzer_pb2.POLICY_TYPE_RESOURCE: "resource",
    analyzer_pb2.POLICY_TYPE_STACK: "stack",
}

# The engine's gRPC client limits (rpcutil.GrpcChannelOptions): 400 MiB messages.
_MAX_MESSAGE = 400 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
]
_PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Passed as the engine address; pulumi.policy parses it but the Python policy runtime never dials it.
_ENGINE_ADDRESS_PLACEHOLDER = "127.0.0.1:0"


class PolicyPackError(RuntimeError):
    """The policy pack failed to start, crashed, or an RPC to it failed."""


class PolicyConfigError(ValueError):
    """Policy-pack config that the engine would refuse; ``errors`` lists every problem."""

    def __init__(self, message: str, errors: Optional[list[str]] = None) -> None:
        super().__init__(message)
        self.errors = errors or [message]


@dataclass
class PolicyInfo:
    name: str
    description: str
    enforcement_level: str
    config_schema: Optional[dict]
    """``{"properties": {...}, "required": [...]}`` as the pack declares it, or None."""
    display_name: str = ""
    policy_type: str = ""  # "resource" | "stack" | ""
    severity: str = ""
    remediation_steps: str = ""
    url: str = ""


@dataclass
class Violation:
    policy: str
    enforcement: str  # "advisory" | "mandatory" | "remediate" | "disabled"
    message: str
    urn: Optional[str]
    description: str
    policy_pack: str = ""
    severity: str = ""

    def to_json(self) -> dict:
        return {"policy": self.policy, "enforcement": self.enforcement, "message": self.message, "urn": self.urn}


# --------------------------------------------------------------------------------------------
# Policy-pack config: the CLI's file format, reconciled as the engine does
# --------------------------------------------------------------------------------------------

_Config = dict[str, tuple[str, Optional[dict]]]  # policy -> (enforcement level or "", properties)


def _check_level(key: str, level: Any) -> str:
    if not isinstance(level, str):
        raise PolicyConfigError(f'parsing enforcement level for "{key}": {level!r} is not a valid enforcement level; must be a string')
    if level not in ENFORCEMENT_LEVELS:
        raise PolicyConfigError(f'parsing enforcement level for "{key}": "{level}" is not a valid enforcement level')
    return level


def parse_policy_config(config: Union[Mapping[str, Any], os.PathLike, None]) -> _Config:
    """Parse ``--policy-pack-config`` content: ``{"policy": "mandatory"}``,
    ``{"policy": {"enforcementLevel": "advisory", "prop": 1}}``, ``{"all": "advisory"}``."""
    if config is None:
        return {}
    if isinstance(config, os.PathLike):
        text = Path(config).read_text()
        if not text.strip():
            return {}
        config = json.loads(text)
    if not isinstance(config, Mapping):
        raise PolicyConfigError(f"policy pack config must be an object, not {type(config).__name__}")
    out: _Config = {}
    for key, value in config.items():
        if isinstance(value, str):
            level, props = _check_level(key, value), None
        elif isinstance(value, Mapping):
            props = dict(value)
            level = _check_level(key, props.pop("enforcementLevel")) if "enforcementLevel" in props else ""
            props = props or None
        else:
            raise PolicyConfigError(f'parsing "{key}": {value!r} is not a valid value; must be a string or object')
        if not level and not props:
            continue
        out[key] = (level, props)
    return out


def _apply_config(result: _Config, given: _Config) -> _Config:
    # pkg/resource/analyzer: applyConfig -- "all" first, then per policy (including "all" itself).
    all_level = given.get("all", ("", None))[0]
    if all_level:
        result = {k: (all_level, props) for k, (_, props) in result.items()}
    for name, (level, props) in given.items():
        cur_level, cur_props = result.get(name, ("", None))
        if level:
            cur_level = level
        if props:
            cur_props = {**(cur_props or {}), **props}
        result[name] = (cur_level, cur_props)
    return result


_JSON_TYPES = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer(),
    "object": lambda v: isinstance(v, Mapping),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def _validate(schema: Mapping[str, Any], value: Any, path: str, errors: list[str]) -> None:
    """The JSON-schema subset policy config schemas use (gojsonschema does the real thing)."""
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else list(types)
        if not any(_JSON_TYPES.get(t, lambda v: True)(value) for t in types):
            errors.append(f"{path}: Invalid type. Expected: {', '.join(types)}, given: {_json_type(value)}")
            return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {path} must be one of the following: {', '.join(json.dumps(e) for e in schema['enum'])}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {path} does not match: {json.dumps(schema['const'])}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for key, ok, word in (
            ("minimum", lambda v, b: v >= b, "greater than or equal to"),
            ("maximum", lambda v, b: v <= b, "less than or equal to"),
            ("exclusiveMinimum", lambda v, b: v > b, "greater than"),
            ("exclusiveMaximum", lambda v, b: v < b, "less than"),
        ):
            bound = schema.get(key)
            if isinstance(bound, (int, float)) and not isinstance(bound, bool) and not ok(value, bound):
                errors.append(f"{path}: Must be {word} {_num(bound)}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{path}: String length must be greater than or equal to {_num(schema['minLength'])}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: String length must be less than or equal to {_num(schema['maxLength'])}")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errors.append(f"{path}: Does not match pattern '{schema['pattern']}'")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: Array must have at least {_num(schema['minItems'])} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: Array must have at most {_num(schema['maxItems'])} items")
        if isinstance(schema.get("items"), Mapping):
            for i, item in enumerate(value):
                _validate(schema["items"], item, f"{path}.{i}", errors)
    if isinstance(value, Mapping):
        for req in schema.get("required") or []:
            if req not in value:
                errors.append(f"{req} is required" if path == "(root)" else f"{path}: {req} is required")
        for key, sub in (schema.get("properties") or {}).items():
            if key in value and isinstance(sub, Mapping):
                _validate(sub, value[key], key if path == "(root)" else f"{path}.{key}", errors)


def _num(v: Any) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "integer" if float(v).is_integer() else "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _reconcile(policies: list[PolicyInfo], initial: _Config, given: _Config) -> tuple[_Config, list[str]]:
    """pkg/resource/analyzer.ReconcilePolicyPackConfig: defaults, initial config, given config."""
    result: _Config = {}
    for p in policies:
        defaults = None
        for key, prop in ((p.config_schema or {}).get("properties") or {}).items():
            if isinstance(prop, Mapping) and "default" in prop:
                defaults = defaults or {}
                defaults[key] = prop["default"]
        result[p.name] = (p.enforcement_level, defaults)
    if initial:
        result = _apply_config(result, initial)
    if given:
        result = _apply_config(result, given)

    errors: list[str] = []
    for p in policies:
        if p.config_schema is None:
            continue
        schema = {
            "type": "object",
            "properties": {
                **(p.config_schema.get("properties") or {}),
                "enforcementLevel": {"type": "string", "enum": list(ENFORCEMENT_LEVELS)},
            },
            "required": list(p.config_schema.get("required") or []),
        }
        perrors: list[str] = []
        _validate(schema, result.get(p.name, ("", None))[1] or {}, "(root)", perrors)
        errors.extend(f"{p.name}: {e}" for e in perrors)
    return result, errors


# --------------------------------------------------------------------------------------------
# Wire conversion
# --------------------------------------------------------------------------------------------


def _wire(value: Any) -> Any:
    """Recorded value -> what the engine marshals for an analyzer (KeepUnknowns, SkipInternalKeys)."""
    if isinstance(value, str):
        return SDK_UNKNOWN if value == UNKNOWN else value
    if isinstance(value, Mapping):
        return {k: _wire(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return value


def _to_struct(props: Optional[Mapping[str, Any]]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    if props:
        s.update(_wire(props))
    return s


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _go_duration_seconds(text: Any) -> float:
    """``time.ParseDuration(s).Seconds()`` for custom timeouts ("10m", "1h30m")."""
    if isinstance(text, (int, float)):
        return float(text)
    if not text:
        return 0.0
    text = str(text).strip()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    total, pos = 0.0, 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            return 0.0
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    return sign * total if pos == len(text) else 0.0


def _urn_type(urn: str) -> str:
    return urn.split("::", 3)[2].rsplit("$", 1)[-1]


def _urn_name(urn: str) -> str:
    return urn.split("::", 3)[3]


def _options(res: Any) -> analyzer_pb2.AnalyzerResourceOptions:
    dbr = getattr(res, "delete_before_replace", None)
    ct = getattr(res, "custom_timeouts", None) or {}
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(getattr(res, "protect", False)),
        ignoreChanges=list(getattr(res, "ignore_changes", None) or []),
        deleteBeforeReplace=bool(dbr),
        deleteBeforeReplaceDefined=dbr is not None,
        additionalSecretOutputs=list(getattr(res, "additional_secret_outputs", None) or []),
        aliases=list(getattr(res, "aliases", None) or []),
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
            create=_go_duration_seconds(ct.get("create")),
            update=_go_duration_seconds(ct.get("update")),
            delete=_go_duration_seconds(ct.get("delete")),
        ),
        parent=getattr(res, "parent", None) or "",
    )


def _providers_by_urn(providers: Union[Mapping[str, Any], Iterable[Any], None]) -> dict[str, Any]:
    if providers is None:
        return {}
    if isinstance(providers, Mapping):
        return dict(providers)
    return {p.urn: p for p in providers if str(getattr(p, "type", "")).startswith("pulumi:providers:")}


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------


def _drain(stream, sink: deque, first_line: Optional[queue.Queue] = None) -> None:
    try:
        if first_line is not None:
            line = stream.readline()
            first_line.put(line)
            if not line:
                return
        for line in iter(stream.readline, b""):
            sink.append(line)
    except (OSError, ValueError):
        pass
    finally:
        if first_line is not None:
            first_line.put(b"")


def _stop_process(proc: subprocess.Popen, grace: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    if grace <= 0:
        proc.kill()
        proc.wait()
        return
    try:
        # pulumi_policy's serve loop turns KeyboardInterrupt into server.stop(0) and a clean exit.
        proc.send_signal(signal.SIGINT if os.name == "posix" else signal.SIGTERM)
        proc.wait(grace)
        return
    except subprocess.TimeoutExpired:
        pass
    except OSError:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)


class PolicyPackClient:
    """A running policy pack, spoken to over ``pulumirpc.Analyzer`` as the engine does.

    Use as a context manager; the process is started on enter and stopped on exit.
    ``stack_config`` (``{"aifactory:facility": "<json>"}``) becomes the pack's ``PULUMI_CONFIG``
    and ``ConfigureStack`` config; ``tags`` are the stack tags sent with ``ConfigureStack``.
    """

    def __init__(
        self,
        pack_dir: Union[Path, str],
        *,
        python: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        timeout: float = 60,
        project: str = "aifactory",
        stack: str = "preview",
        organization: str = "organization",
        dry_run: bool = True,
        stack_config: Optional[Mapping[str, str]] = None,
        tags: Optional[Mapping[str, str]] = None,
        stop_grace: float = 5.0,
    ) -> None:
        self.pack_dir = Path(pack_dir).resolve()
        # Seconds the pack has to exit on SIGINT when closed; 0 kills it at once (a one-shot command
        # has its answers by then, and the pack keeps nothing that needs a clean exit).
        self.stop_grace = stop_grace
        self.timeout = timeout
        self.project, self.stack, self.organization = project, stack, organization
        self.dry_run = dry_run
        self.stack_config = dict(stack_config or {})
        self.tags = dict(tags or {})
        self._extra_env = dict(env or {})

        manifest = self.pack_dir / "PulumiPolicy.yaml"
        if not manifest.is_file():
            raise PolicyPackError(f"no PulumiPolicy.yaml in {self.pack_dir}")
        proj = yaml.safe_load(manifest.read_text()) or {}
        runtime = proj.get("runtime")
        runtime_name = runtime.get("name") if isinstance(runtime, Mapping) else runtime
        if runtime_name != "python":
            raise PolicyPackError(f"{manifest}: runtime {runtime_name!r} is not python")
        options = (runtime.get("options") or {}) if isinstance(runtime, Mapping) else {}
        self.manifest_version = str(proj.get("version") or "")
        self.manifest_description = str(proj.get("description") or "")
        if python is None:
            python = sys.executable
            venv = options.get("virtualenv") or options.get("virtualEnv")
            if venv:
                # No resolve(): the venv's python is a symlink to the base interpreter.
                candidate = os.path.normpath(self.pack_dir / venv / ("Scripts" if os.name == "nt" else "bin") / "python")
                if os.path.exists(candidate):
                    python = candidate
        self.python = python

        self.name: str = ""
        self.version: str = ""
        self.plugin_version: str = ""
        self.policies: list[PolicyInfo] = []
        self.initial_config: _Config = {}
        self.policy_config: _Config = {}
        """The reconciled config last sent with ``Configure``."""
        self.remediated: dict[str, dict] = {}
        """URN -> properties after remediations (only when a policy is configured ``remediate``)."""
        self.startup_seconds: float = 0.0

        self._proc: Optional[subprocess.Popen] = None
        self._channel: Optional[grpc.Channel] = None
        self._stub: Optional[analyzer_pb2_grpc.AnalyzerStub] = None
        self._stderr: deque = deque(maxlen=400)
        self._stdout: deque = deque(maxlen=400)
        self._threads: list[threading.Thread] = []
        self._finalizer: Optional[weakref.finalize] = None
        self._providers: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> Optional[int]:
        return self._proc.poll() if self._proc else None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        for key in ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS", "PULUMI_NODEJS_PROJECT", "PULUMI_NODEJS_STACK"):
            env.pop(key, None)
        # constructEnv(): config and stack identity for the pack process.
        if self.stack_config:
            env["PULUMI_CONFIG"] = json.dumps(self.stack_config)
        env["PULUMI_ORGANIZATION"] = self.organization
        env["PULUMI_PROJECT"] = self.project
        env["PULUMI_STACK"] = self.stack
        env["PULUMI_DRY_RUN"] = "true" if self.dry_run else "false"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self._extra_env)
        return env

    def start(self) -> "PolicyPackClient":
        if self._proc is not None:
            return self
        t0 = time.perf_counter()
        self._proc = subprocess.Popen(
            [self.python, "-u", "-m", "pulumi.policy", _ENGINE_ADDRESS_PLACEHOLDER, "."],
            cwd=self.pack_dir,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._finalizer = weakref.finalize(self, _stop_process, self._proc, 1.0)
        port_q: queue.Queue = queue.Queue()
        for stream, sink, q in ((self._proc.stdout, self._stdout, port_q), (self._proc.stderr, self._stderr, None)):
            t = threading.Thread(target=_drain, args=(stream, sink, q), daemon=True)
            t.start()
            self._threads.append(t)
        try:
            try:
                line = port_q.get(timeout=self.timeout)
            except queue.Empty:
                raise PolicyPackError(self._failure(f"policy pack did not print its port within {self.timeout:g}s"))
            text = line.decode(errors="replace").strip()
            if not text.isdigit():
                self._wait_briefly()
                raise PolicyPackError(self._failure(f"policy pack failed to start (first output {text!r})"))
            port = int(text)
            self._channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_CHANNEL_OPTIONS)
            grpc.channel_ready_future(self._channel).result(timeout=self.timeout)
            self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
            self._handshake()
            self._load_info()
            self.configure(None)
        except BaseException:
            self.close()
            raise
        self.startup_seconds = time.perf_counter() - t0
        return self

    def _wait_briefly(self) -> None:
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for t in self._threads:
            t.join(1)

    def _failure(self, what: str) -> str:
        err = b"".join(list(self._stderr)[-60:]).decode(errors="replace").strip()
        code = self._proc.poll() if self._proc else None
        msg = f"{what} [{self.pack_dir}]"
        if code is not None:
            msg += f"; exit status {code}"
        if err:
            msg += f"\n{err}"
        return msg

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self._stub = None
        if self._proc is not None:
            _stop_process(self._proc, self.stop_grace)
            for t in self._threads:
                t.join(2)
            for stream in (self._proc.stdout, self._proc.stderr):
                if stream:
                    stream.close()
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None

    def __enter__(self) -> "PolicyPackClient":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def stderr(self) -> str:
        """What the pack wrote on stderr so far (its ``pulumi.log`` and prints go there)."""
        return b"".join(self._stderr).decode(errors="replace")

    # -- RPCs --------------------------------------------------------------------------------

    def _call(self, method: str, request: Any) -> Any:
        if self._stub is None:
            raise PolicyPackError("policy pack client is not started")
        try:
            return getattr(self._stub, method)(request, timeout=self.timeout)
        except grpc.RpcError as exn:
            raise self._rpc_failure(method, exn) from None

    def _rpc_failure(self, method: str, exn: grpc.RpcError) -> PolicyPackError:
        return PolicyPackError(self._failure(f"{method} failed: {exn.code().name}: {exn.details()}"))

    def _handshake(self) -> None:
        try:
            self._stub.Handshake(
                analyzer_pb2.AnalyzerHandshakeRequest(
                    engine_address=_ENGINE_ADDRESS_PLACEHOLDER,
                    root_directory=str(self.pack_dir),
                    program_directory=str(self.pack_dir),
                ),
                timeout=self.timeout,
            )
        except grpc.RpcError as exn:
            if exn.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise PolicyPackError(self._failure(f"Handshake failed: {exn.details()}")) from None
        try:
            self._stub.ConfigureStack(
                analyzer_pb2.AnalyzerStackConfigureRequest(
                    stack=self.stack,
                    project=self.project,
                    organization=self.organization,
                    dry_run=self.dry_run,
                    config=self.stack_config,
                    config_secret_keys=[],
                    tags=self.tags,
                ),
                timeout=self.timeout,
            )
        except grpc.RpcError as exn:
            if exn.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise PolicyPackError(self._failure(f"ConfigureStack failed: {exn.details()}")) from None

    def _load_info(self) -> None:
        info = self._call("GetAnalyzerInfo", empty_pb2.Empty())
        self.name = info.name
        # The version from PulumiPolicy.yaml wins over the pack's (pulumi_policy always says 0.0.1).
        self.version = self.manifest_version or info.version
        policies = []
        for p in info.policies:
            schema = None
            if p.HasField("configSchema"):
                schema = {
                    "properties": json_format.MessageToDict(p.configSchema.properties),
                    "required": list(p.configSchema.required),
                }
            policies.append(
                PolicyInfo(
                    name=p.name,
                    description=p.description,
                    enforcement_level=_PROTO_TO_LEVEL.get(p.enforcementLevel, "advisory"),
                    config_schema=schema,
                    display_name=p.displayName,
                    policy_type=_POLICY_TYPE.get(p.policy_type, ""),
                    severity=_SEVERITY.get(p.severity, ""),
                    remediation_steps=p.remediation_steps,
                    url=p.url,
                )
            )
        policies.sort(key=lambda p: p.name)  # the engine sorts them by name
        self.policies = policies
        self._declared_levels = {p.name: p.enforcement_level for p in policies}
        self.initial_config = {
            k: (_PROTO_TO_LEVEL.get(v.enforcementLevel, "advisory"), json_format.MessageToDict(v.properties) or None)
            for k, v in info.initialConfig.items()
        }
        self.plugin_version = self._call("GetPluginInfo", empty_pb2.Empty()).version

    def info(self) -> tuple[str, list[PolicyInfo]]:
        """The pack's name and its policies (enforcement levels as currently configured)."""
        return self.name, list(self.policies)

    def configure(self, config: Union[Mapping[str, Any], os.PathLike, None]) -> None:
        """Send the engine's ``Configure`` for a policy-pack config file's content.

        Not cumulative: like the CLI's single ``--policy-pack-config`` file, each call reconciles
        the pack's defaults with ``config`` afresh. Raises :class:`PolicyConfigError` where the
        engine would refuse the config (bad levels, schema violations, a level-less entry for an
        unknown policy).
        """
        given = parse_policy_config(config)
        declared = [
            PolicyInfo(p.name, p.description, self._declared_levels[p.name], p.config_schema)
            for p in self.policies
        ]
        result, errors = _reconcile(declared, self.initial_config, given)
        if errors:
            raise PolicyConfigError(
                f"validating policy config: {self.name} {self.version}  " + "; ".join(errors), errors
            )
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for key, (level, props) in result.items():
            if level not in _LEVEL_TO_PROTO:
                # The engine's Configure refuses it too: config for a policy the pack does not have,
                # without an enforcement level (usually a typo in the policy name).
                raise PolicyConfigError(
                    f'invalid enforcement level "{level}" for "{key}": '
                    f"{self.name} has no policy of that name and no enforcementLevel was given"
                )
            entry = request.policyConfig[key]
            entry.enforcementLevel = _LEVEL_TO_PROTO[level]
            entry.properties.CopyFrom(_to_struct(props))
        if result:  # the engine skips Configure when there is nothing to send
            self._call("Configure", request)
        self.policy_config = result
        for p in self.policies:
            if p.name in result:
                p.enforcement_level = result[p.name][0]

    def _provider_message(self, res: Any, providers: Mapping[str, Any]) -> Optional[analyzer_pb2.AnalyzerProviderResource]:
        ref = getattr(res, "provider", None)
        if not ref:
            return None
        prov = providers.get(ref) or self._providers.get(ref)
        if prov is None:
            # Not seen: still tell the pack which provider it is, without its inputs.
            return analyzer_pb2.AnalyzerProviderResource(type=_urn_type(ref), name=_urn_name(ref), urn=ref)
        return analyzer_pb2.AnalyzerProviderResource(
            type=prov.type, name=prov.name, urn=prov.urn, properties=_to_struct(getattr(prov, "inputs", None))
        )

    def _remember_provider(self, res: Any) -> None:
        if str(getattr(res, "type", "")).startswith("pulumi:providers:"):
            self._providers[res.urn] = res

    def _analyze_request(self, res: Any, providers: Mapping[str, Any]) -> analyzer_pb2.AnalyzeRequest:
        kwargs: dict[str, Any] = dict(
            type=res.type,
            urn=res.urn,
            name=res.name,
            properties=_to_struct(getattr(res, "inputs", None)),
            options=_options(res),
        )
        provider = self._provider_message(res, providers)
        if provider is not None:
            kwargs["provider"] = provider
        return analyzer_pb2.AnalyzeRequest(**kwargs)

    def _violations(self, diagnostics, urn_for) -> list[Violation]:
        out = []
        for d in diagnostics:
            level = _PROTO_TO_LEVEL.get(d.enforcementLevel, "advisory")
            if level == "remediate":
                level = "mandatory"  # the engine downgrades a remediate-level violation to mandatory
            out.append(
                Violation(
                    policy=d.policyName,
                    enforcement=level,
                    message=d.message,
                    urn=urn_for(d.urn),
                    description=d.description,
                    policy_pack=d.policyPackName,
                    severity=_SEVERITY.get(d.severity, ""),
                )
            )
        return out

    def _remediating(self) -> bool:
        return any(level == "remediate" for level, _ in self.policy_config.values())

    def analyze(
        self, resource: Any, providers: Union[Mapping[str, Any], Iterable[Any], None] = None
    ) -> list[Violation]:
        """``Analyze`` one resource (its inputs), as the step generator does for each registration.

        ``providers`` maps provider URN -> provider resource (or is an iterable of resources) so the
        request's ``provider`` field carries the provider's type, name, URN and inputs; providers
        passed to ``analyze`` earlier are remembered.
        """
        provs = _providers_by_urn(providers)
        self._remember_provider(resource)
        request = self._analyze_request(resource, provs)
        violations: list[Violation] = []
        if self._remediating():
            violations += self._remediate(resource, request)
        response = self._call("Analyze", request)
        # "For now, we always use the URN we have here rather than a URN specified with the diagnostic."
        violations += self._violations(response.diagnostics, lambda _urn: resource.urn)
        return violations

    def analyze_many(
        self, resources: Iterable[Any], providers: Union[Mapping[str, Any], Iterable[Any], None] = None,
        in_flight: int = 16,
    ) -> list[Violation]:
        """``analyze`` of every resource, in order, with up to ``in_flight`` requests outstanding at
        once (as the engine's parallel steps do): the same requests and answers, without waiting a
        round trip per resource. Remediation rewrites each request before it is analysed, so a pack
        configured to remediate is asked one resource at a time."""
        resources = list(resources)
        if self._remediating():
            return [v for res in resources for v in self.analyze(res, providers)]
        if self._stub is None:
            raise PolicyPackError("policy pack client is not started")
        provs = _providers_by_urn(providers)
        pending: collections.deque = collections.deque()
        violations: list[Violation] = []

        def collect() -> None:
            resource, future = pending.popleft()
            try:
                response = future.result()
            except grpc.RpcError as exn:
                raise self._rpc_failure("Analyze", exn) from None
            violations.extend(self._violations(response.diagnostics, lambda _urn: resource.urn))

        for resource in resources:
            self._remember_provider(resource)
            request = self._analyze_request(resource, provs)
            pending.append((resource, self._stub.Analyze.future(request, timeout=self.timeout)))
            if len(pending) >= in_flight:
                collect()
        while pending:
            collect()
        return violations

    def _remediate(self, resource: Any, request: analyzer_pb2.AnalyzeRequest) -> list[Violation]:
        response = self._call("Remediate", request)
        out = []
        for r in response.remediations:
            if r.diagnostic:
                out.append(Violation(r.policyName, "advisory", r.diagnostic, resource.urn, r.description, r.policyPackName))
            elif r.HasField("properties"):
                request.properties.CopyFrom(r.properties)
                plain = json_format.MessageToDict(r.properties)
                self.remediated[resource.urn] = _unwire(plain)
        return out

    def analyze_stack(
        self, resources: Iterable[Any], providers: Union[Mapping[str, Any], Iterable[Any], None] = None
    ) -> list[Violation]:
        """``AnalyzeStack`` once with every resource (parents, dependencies, property dependencies)."""
        resources = list(resources)
        provs = {**self._providers, **_providers_by_urn(resources), **_providers_by_urn(providers)}
        request = analyzer_pb2.AnalyzeStackRequest()
        for res in resources:
            msg = request.resources.add(
                type=res.type,
                urn=res.urn,
                name=res.name,
                properties=_to_struct(self.remediated.get(res.urn, getattr(res, "inputs", None))),
                options=_options(res),
                parent=getattr(res, "parent", None) or "",
                dependencies=list(getattr(res, "dependencies", None) or []),
            )
            provider = self._provider_message(res, provs)
            if provider is not None:
                msg.provider.CopyFrom(provider)
            for key, urns in (getattr(res, "property_dependencies", None) or {}).items():
                if urns:  # the engine skips properties without dependencies
                    msg.propertyDependencies[key].urns.extend(urns)
        response = self._call("AnalyzeStack", request)
        known = {r.urn for r in resources}
        return self._violations(response.diagnostics, lambda urn: urn if urn in known else None)


def _unwire(value: Any) -> Any:
    if isinstance(value, str):
        return UNKNOWN if value == SDK_UNKNOWN else value
    if isinstance(value, dict):
        return {k: _unwire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwire(v) for v in value]
    return value


def analyze_all(
    pack_dir: Union[Path, str],
    resources: Iterable[Any],
    config: Union[Mapping[str, Any], os.PathLike, None] = None,
    *,
    custom_only: bool = False,
    **client_options: Any,
) -> tuple[list[PolicyInfo], list[Violation]]:
    """One pack process: ``Analyze`` per resource, then ``AnalyzeStack`` with all of them.

    Like the engine, every registered resource is analyzed (the stack, components and providers
    too); ``custom_only=True`` restricts ``Analyze`` to custom, non-provider resources.
    """
    with PolicyPackClient(pack_dir, **client_options) as client:
        return analyze_with(client, resources, config, custom_only=custom_only)


def analyze_with(
    client: "PolicyPackClient",
    resources: Iterable[Any],
    config: Union[Mapping[str, Any], os.PathLike, None] = None,
    *,
    custom_only: bool = False,
) -> tuple[list[PolicyInfo], list[Violation]]:
    """`analyze_all` on a pack the caller started (so its start-up can overlap other work)."""
    resources = list(resources)
    providers = _providers_by_urn(resources)
    if config is not None:
        client.configure(config)
    judged = [res for res in resources
              if not (custom_only and (not getattr(res, "custom", True) or res.type.startswith("pulumi:providers:")))]
    violations = client.analyze_many(judged, providers)
    violations += client.analyze_stack(resources, providers)
    return client.info()[1], violations
