"""Run a Pulumi program under the SDK's mocks and record every RegisterResource request.

`run(program)` returns a `Run` holding one `Registered` per request: type, name, parent URN,
provider reference, protect / retainOnDelete, dependencies, propertyDependencies and the inputs
as the SDK sends them (camelCase keys, resource references resolved to IDs). A property with no
property dependencies was sent as a literal, not derived from another resource's output.

The mocks answer a custom resource with the ID `<name>_id` and its inputs plus the computed
attributes the components read (`arn`, `dnsName`, `mountName`, `prefixListId`, `name`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks


@dataclass
class Registered:
    urn: str
    type: str
    name: str
    parent: str
    provider: str
    custom: bool
    protect: bool
    retain_on_delete: bool
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: dict[str, Any]

    def literal(self, key: str) -> bool:
        """True if the input was sent without depending on any other resource."""
        return not self.property_dependencies.get(key)


@dataclass
class Run:
    resources: list[Registered] = field(default_factory=list)

    def of(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registered:
        found = [r for r in self.of(type_) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> Registered:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]

    def by_urn(self, urn: str) -> Registered:
        return next(r for r in self.resources if r.urn == urn)

    def custom(self) -> list[Registered]:
        return [r for r in self.resources if r.custom and not r.type.startswith("pulumi:providers:")]


class _Mocks(Mocks):
    def new_resource(self, args: MockResourceArgs):
        state = dict(args.inputs)
        name = args.name
        state.setdefault("arn", f"arn:aws:mock:::{name}")
        state.setdefault("name", name)
        if args.typ == "aws:fsx/lustreFileSystem:LustreFileSystem":
            state.update(dnsName=f"{name}.fsx.example.com", mountName=f"{name.replace('-', '')[:8]}")
        if args.typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            state["prefixListId"] = "pl-mock"
        return f"{name}_id", state

    def call(self, args: MockCallArgs):
        return {}, None


class _Monitor(MockMonitor):
    def __init__(self, mocks: Mocks, run: Run):
        super().__init__(mocks)
        self.run = run

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.run.resources.append(
                Registered(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    provider=request.provider,
                    custom=bool(request.custom),
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    dependencies=list(request.dependencies),
                    property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                    inputs=rpc.deserialize_properties(request.object),
                )
            )
        return response


def run(program: Callable[[], Any], *, preview: bool = True, stack: str = "test") -> Run:
    """Run `program` under fresh mocks (preview by default) and return every registration.

    Each run gets its own contextvars context (the SDK keeps settings and the root stack there)
    and its own event loop, so runs in one process do not see each other."""
    result = Run()

    def isolated() -> None:
        mocks = _Mocks()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            pulumi.runtime.set_mocks(
                mocks, project="aifactory", stack=stack, preview=preview, monitor=_Monitor(mocks, result)
            )

            @pulumi.runtime.test
            def go():
                program()

            go()
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    # On a thread of its own, so the caller's event loop (and later tests') is left alone.
    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(context.run, isolated).result()
    return result


def provider_opts(region: str = "us-east-1") -> pulumi.ResourceOptions:
    """An explicit AWS provider, as a standalone program passes it to a component."""
    import pulumi_aws as aws

    return pulumi.ResourceOptions(providers={"aws": aws.Provider(f"standalone-{region}", region=region)})
