"""The provider suites' harness: run a component provider as Pulumi runs a plugin, and be its engine.

`ProviderProcess(cloud)` starts `providers/aifactory-<cloud>` the way Pulumi's Python language host
runs a plugin directory (`python <dir> <engine address>`, working directory the caller's) and reads
the port the provider prints on its first stdout line; `stub` is a `ResourceProvider` gRPC client.

`EngineServer` is the other side: a gRPC server serving the offline engine's recording monitor
(`aifactory.recording.RecordingMonitor`) as the engine serves its `ResourceMonitor`, and a
`Engine` service for logs. `construct(...)` sends a `ConstructRequest` naming that monitor and
returns what the provider registered there, in the recorder's deterministic order.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import grpc
from google.protobuf import empty_pb2, struct_pb2

from pulumi.runtime import rpc
from pulumi.runtime.mocks import Mocks
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    provider_pb2,
    provider_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
)

from aifactory.recording import ROOT_STACK_TYPE, RecordedResource, RecordingMonitor, _ordered

ROOT = Path(__file__).resolve().parent.parent
PROJECT, STACK = "aifactory", "test"
STACK_URN = f"urn:pulumi:{STACK}::{PROJECT}::{ROOT_STACK_TYPE}::{PROJECT}-{STACK}"
STARTUP_SECONDS = 120


class _Monitor(resource_pb2_grpc.ResourceMonitorServicer):
    """Every ResourceMonitor call handed to the current recorder, as the engine would answer it."""

    def __init__(self, server: "EngineServer") -> None:
        self.server = server

    def _call(self, name: str, request):
        return getattr(self.server.recorder, name)(request)

    def SupportsFeature(self, request, context):
        answer = self._call("SupportsFeature", request)
        return resource_pb2.SupportsFeatureResponse(hasSupport=bool(answer.hasSupport))

    def GetDeploymentInfo(self, request, context):
        return self._call("GetDeploymentInfo", request)

    def RegisterResource(self, request, context):
        return self._call("RegisterResource", request)

    def RegisterResourceOutputs(self, request, context):
        return self._call("RegisterResourceOutputs", request)

    def Invoke(self, request, context):
        return self._call("Invoke", request)

    def ReadResource(self, request, context):
        return self._call("ReadResource", request)


class _Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self) -> None:
        self.logs: list[dict] = []

    def Log(self, request, context):
        self.logs.append({"severity": request.severity, "message": request.message, "urn": request.urn})
        return empty_pb2.Empty()

    def GetRootResource(self, request, context):
        return engine_pb2.GetRootResourceResponse(urn=STACK_URN)

    def SetRootResource(self, request, context):
        return engine_pb2.SetRootResourceResponse()


class EngineServer:
    """A gRPC ResourceMonitor (backed by a fresh `RecordingMonitor` per construct) and Engine."""

    def __init__(self) -> None:
        self.recorder: Optional[RecordingMonitor] = None
        self.engine = _Engine()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        resource_pb2_grpc.add_ResourceMonitorServicer_to_server(_Monitor(self), self._server)
        engine_pb2_grpc.add_EngineServicer_to_server(self.engine, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"
        self._server.start()

    def stop(self) -> None:
        self._server.stop(grace=None)


class ProviderProcess:
    """`providers/aifactory-<cloud>` started as the Python language host starts a plugin."""

    def __init__(self, cloud: str, engine_address: str) -> None:
        self.name = f"aifactory-{cloud}"
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "providers" / self.name), engine_address],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        port = self._first_line()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)

    def _first_line(self) -> int:
        box: dict[str, bytes] = {}
        reader = threading.Thread(target=lambda: box.setdefault("line", self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(STARTUP_SECONDS)
        line = box.get("line", b"").strip()
        if not line.isdigit():
            self.stop()
            self._stderr.seek(0)
            raise RuntimeError(f"{self.name} printed no port: {line!r}\n{self._stderr.read().decode()[-3000:]}")
        return int(line)

    def schema(self) -> dict:
        return json.loads(self.stub.GetSchema(provider_pb2.GetSchemaRequest(version=0)).schema)

    def stop(self) -> None:
        if hasattr(self, "channel"):
            self.channel.close()
        self.process.kill()
        self.process.wait(timeout=30)
        self._stderr.close()


@dataclass
class Constructed:
    urn: str
    state: dict
    resources: list[RecordedResource]
    outputs: dict[str, dict]


def construct(
    provider: ProviderProcess,
    engine: EngineServer,
    type_: str,
    name: str,
    inputs: Mapping[str, Any],
    mocks: Mocks,
    input_dependencies: Optional[Mapping[str, list[str]]] = None,
) -> Constructed:
    """`Construct` of `type_` named `name` with `inputs` (plain JSON values; `input_dependencies`
    names, per input, the URNs its value came from), as a child of the stack, during a preview."""
    engine.recorder = RecordingMonitor(PROJECT, STACK, mocks)
    struct = struct_pb2.Struct()
    struct.update(dict(inputs))
    request = provider_pb2.ConstructRequest(
        project=PROJECT,
        stack=STACK,
        organization="organization",
        dryRun=True,
        parallel=8,
        monitorEndpoint=engine.address,
        type=type_,
        name=name,
        parent=STACK_URN,
        inputs=struct,
        inputDependencies={
            k: provider_pb2.ConstructRequest.PropertyDependencies(urns=v) for k, v in (input_dependencies or {}).items()
        },
    )
    response = provider.stub.Construct(request, timeout=300)
    state = rpc.deserialize_properties(response.state, keep_unknowns=True)
    recorder = engine.recorder
    return Constructed(response.urn, state, _ordered(recorder.records), dict(recorder.outputs))


def comparable(resources: list[RecordedResource]) -> dict[str, dict]:
    """What the engine receives per resource, keyed by URN (dependency lists as sets)."""
    out = {}
    for r in resources:
        if r.type == ROOT_STACK_TYPE:
            continue
        out[r.urn] = {
            "type": r.type,
            "name": r.name,
            "parent": r.parent,
            "provider": r.provider,
            "custom": r.custom,
            "protect": r.protect,
            "retain_on_delete": r.retain_on_delete,
            "inputs": r.inputs,
            "dependencies": sorted(r.dependencies),
            "property_dependencies": {k: sorted(v) for k, v in r.property_dependencies.items()},
            "ignore_changes": r.ignore_changes,
            "aliases": r.aliases,
            "version": r.version,
        }
    return out
