"""The component suites' harness: run a Pulumi program under `aifactory.recording` and read back
what it registered.

`run(program, mocks=FakeCloud(...))` runs `program()` with `aifactory.recording.run_program` (the
offline engine's recorder: engine URNs, camelCase inputs, numbers as floats, resource references
as IDs, unknowns as `recording.UNKNOWN`) and returns a `Run`: every registration except the root
stack, in the recorder's deterministic order, with accessors by type, name and package; the
program's return value (`value`, as returned, not resolved); and the stack outputs the program
exported with `pulumi.export` (`outputs`, resolved as the engine sees them).

`FakeCloud` answers registrations the way a cloud would for the components under test: a
resource's state is its inputs (with `name` defaulted to its logical name) plus whatever computed
attributes the suite's `outputs` hook adds; its ID is `<name>_id` unless the hook gives an `id`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

from aifactory.recording import ROOT_STACK_TYPE, ProgramRun, RecordedResource, run_program

__all__ = ["FakeCloud", "Run", "run", "literal", "provider_name"]

Outputs = Callable[[str, str, dict], Mapping[str, Any]]
"""`(type, name, state) -> computed attributes` of a new resource (an `id` among them is its ID)."""


class FakeCloud(Mocks):
    """Inputs as state, plus the attributes the cloud computes.

    `known_ids=False` answers every resource with an unknown ID (a preview of a new stack);
    `known_state=False` answers with no state at all, so every output is unknown in a preview.
    `calls` maps an invoke token to its result; any other invoke returns `{}`.
    """

    def __init__(
        self,
        outputs: Optional[Outputs] = None,
        *,
        calls: Optional[Mapping[str, dict]] = None,
        known_ids: bool = True,
        known_state: bool = True,
    ) -> None:
        self.outputs = outputs
        self.calls = dict(calls or {})
        self.known_ids = known_ids
        self.known_state = known_state

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict]:
        rid = f"{args.name}_id" if self.known_ids else ""
        if not self.known_state:
            return rid, {}
        state = dict(args.inputs)
        state.setdefault("name", args.name)
        if self.outputs is not None:
            state.update(self.outputs(args.typ, args.name, state))
        return state.get("id", rid), state

    def call(self, args: MockCallArgs) -> dict:
        return dict(self.calls.get(args.token, {}))


@dataclass
class Run:
    """What one program registered (the root stack left out), and what it returned and exported."""

    program: ProgramRun
    resources: list[RecordedResource]
    value: Any
    outputs: dict

    def of(self, type_: str, prefix: str = "") -> list[RecordedResource]:
        """Every resource of type `type_` whose name starts with `prefix`."""
        return [r for r in self.resources if r.type == type_ and r.name.startswith(prefix)]

    def one(self, type_: str, name: Optional[str] = None) -> RecordedResource:
        """The one resource of type `type_` (named `name`, if given)."""
        found = [r for r in self.of(type_) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def inputs(self, type_: str, name: Optional[str] = None) -> dict:
        return self.one(type_, name).inputs

    def package(self, package: str) -> list[RecordedResource]:
        """Every resource of a provider package (`aws`, `azure-native`, `gcp`), providers excluded."""
        return [r for r in self.resources if r.type.split(":", 1)[0] == package]

    def custom(self, providers: bool = False) -> list[RecordedResource]:
        """Custom resources; providers only if `providers`."""
        return [r for r in self.resources if r.custom and (providers or not r.is_provider)]

    def components(self) -> list[RecordedResource]:
        return [r for r in self.resources if not r.custom]


def run(
    program: Callable[[], Any],
    *,
    mocks: Optional[Mocks] = None,
    preview: bool = True,
    stack: str = "test",
    project: str = "aifactory",
) -> Run:
    """Run `program()` under the recorder with `mocks` (default: `FakeCloud()`)."""
    box: dict[str, Any] = {}

    def main() -> None:
        box["value"] = program()

    recorded = run_program(
        main, project=project, stack=stack, preview=preview, mocks=mocks if mocks is not None else FakeCloud()
    )
    return Run(
        program=recorded,
        resources=[r for r in recorded.resources if r.type != ROOT_STACK_TYPE],
        value=box.get("value"),
        outputs=recorded.outputs,
    )


def literal(resource: RecordedResource, key: str) -> bool:
    """True if input `key` was sent without depending on any other resource's output."""
    return not resource.property_dependencies.get(key)


def provider_name(resource: RecordedResource) -> Optional[str]:
    """The logical name of the provider a resource was registered with (None without one)."""
    return resource.provider.rsplit("::", 1)[-1] if resource.provider else None
