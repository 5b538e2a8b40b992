"""Read what the real Pulumi CLI writes as JSON into the resources the offline engine records.

Four documents, told apart by their shape:

- `pulumi preview --json`: a PreviewDigest, `{"config", "steps": [{"op", "urn", "provider",
  "oldState", "newState", ...}], "diagnostics", "changeSummary", ...}`;
- `pulumi stack export`: `{"version": 3, "deployment": {"manifest", "resources": [...], ...}}`;
- a checkpoint (the state backend's file): `{"version": N, "checkpoint": {"stack", "latest":
  {"resources": [...]}}}`;
- aifactory's own preview JSON (`aifactory preview --format json`): `{"stack", "resources", ...}`.

Each resource (`ResourceV3`) becomes a `RecordedResource` as the engine would hand it to a policy
pack: inputs (outputs where a state has none), the provider reference without its `::<id>`, the
unknown sentinel as the recorder's unknown marker, a secret as its plaintext or, when it is
encrypted or blinded (`[secret]`), as unknown -- a gate that needs it then says so rather than
reading zero. A preview's deleted resources are not counted (`delete`, `delete-replaced`,
`discard`...), a replaced one counts once (the engine emits several steps for one URN), and a state's
resources marked `delete` (the old half of a replacement) or `external` (read, not managed) are left
out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aifactory.recording import UNKNOWN, RecordedResource

WIRE_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
BLINDED_SECRET = "[secret]"

# Steps whose resource is gone once the operation completes (pkg/resource/deploy/step.go ops).
GONE_OPS = {"delete", "delete-replaced", "discard", "discard-replaced", "remove-pending-replace", "read-discard"}
# Steps reading a resource the program does not manage (`get`/data sources).
READ_OPS = {"read", "read-replacement"}

FORMATS = {
    "preview-digest": "`pulumi preview --json`",
    "stack-export": "`pulumi stack export`",
    "checkpoint": "a Pulumi state checkpoint",
    "aifactory-preview": "`aifactory preview --format json`",
}


class EngineJsonError(ValueError):
    """A document that is none of the known formats, or malformed; `problems` lists why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class EngineDocument:
    format: str
    project: str
    stack: str
    resources: list[RecordedResource]
    config: dict[str, Any] = field(default_factory=dict)
    """Stack config the document carries (a preview digest's `config`, our own `facility`)."""
    outputs: dict[str, Any] = field(default_factory=dict)
    facility: dict | None = None


def detect(doc: Any) -> str:
    if isinstance(doc, dict):
        if isinstance(doc.get("steps"), list):
            return "preview-digest"
        if isinstance(doc.get("deployment"), dict) and "version" in doc:
            return "stack-export"
        if isinstance(doc.get("checkpoint"), dict) and "version" in doc:
            return "checkpoint"
        if isinstance(doc.get("resources"), list) and isinstance(doc.get("stack"), str):
            return "aifactory-preview"
    raise EngineJsonError([
        "not a document aifactory reads: expected " + ", ".join(FORMATS.values())
        + " (a JSON object with `steps`, `deployment`, `checkpoint`, or `stack` and `resources`)"
    ])


def read(doc: Any) -> EngineDocument:
    kind = detect(doc)
    if kind == "preview-digest":
        return _from_digest(doc)
    if kind == "stack-export":
        version = doc.get("version")
        if version != 3:
            raise EngineJsonError([f"version: {version!r}; `pulumi stack export` writes version 3 deployments"])
        return _from_deployment(kind, doc["deployment"], None)
    if kind == "checkpoint":
        checkpoint = doc["checkpoint"]
        return _from_deployment(kind, checkpoint.get("latest") or {}, checkpoint.get("stack"))
    return _from_own(doc)


# --------------------------------------------------------------------------- values


def plain(value: Any) -> Any:
    """A state value as an analyzer sees it: secrets opened where plain, unknowns marked."""
    if isinstance(value, str):
        if value == WIRE_UNKNOWN or value == BLINDED_SECRET:
            return UNKNOWN
        return value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            if "plaintext" in value and isinstance(value["plaintext"], str):
                try:
                    return plain(json.loads(value["plaintext"]))
                except json.JSONDecodeError:
                    return UNKNOWN
            return UNKNOWN  # ciphertext: only the stack's secrets provider can open it
        if sig == RESOURCE_SIG:
            rid = value.get("id")
            if rid is not None:
                return UNKNOWN if rid in ("", WIRE_UNKNOWN) else rid
            return value.get("urn", UNKNOWN)
        return {k: plain(v) for k, v in value.items()}
    return value


def provider_urn(ref: Any) -> str | None:
    """`<provider urn>::<provider id>` -> the provider's URN (the id may be unknown in a preview)."""
    if not isinstance(ref, str) or not ref:
        return None
    sep = ref.rfind("::")
    return ref[:sep] if sep > 0 else ref


def urn_parts(urn: str) -> tuple[str, str, str]:
    """(stack, project, name) of `urn:pulumi:<stack>::<project>::<type>::<name>`."""
    parts = urn.split("::")
    if len(parts) < 4 or not parts[0].startswith("urn:pulumi:"):
        raise EngineJsonError([f"{urn!r} is not a Pulumi URN"])
    return parts[0][len("urn:pulumi:"):], parts[1], "::".join(parts[3:])


def resource(state: Any, where: str) -> RecordedResource:
    if not isinstance(state, dict) or not isinstance(state.get("urn"), str) or not isinstance(state.get("type"), str):
        raise EngineJsonError([f"{where}: a resource needs a string `urn` and `type`"])
    _, _, name = urn_parts(state["urn"])
    inputs = state.get("inputs")
    if inputs is None:
        inputs = state.get("outputs")
    if inputs is not None and not isinstance(inputs, dict):
        raise EngineJsonError([f"{where}.inputs: must be an object"])
    property_dependencies = state.get("propertyDependencies") or {}
    return RecordedResource(
        urn=state["urn"],
        type=state["type"],
        name=name,
        parent=state.get("parent") or None,
        provider=provider_urn(state.get("provider")),
        custom=bool(state.get("custom", False)),
        protect=bool(state.get("protect", False)),
        retain_on_delete=bool(state.get("retainOnDelete", False)),
        inputs=plain(inputs or {}),
        dependencies=[d for d in state.get("dependencies") or [] if isinstance(d, str)],
        property_dependencies={k: list(v or []) for k, v in property_dependencies.items()},
        ignore_changes=list(state.get("ignoreChanges") or []),
        additional_secret_outputs=list(state.get("additionalSecretOutputs") or []),
        import_id=str(state.get("importID") or ""),
    )


# --------------------------------------------------------------------------- documents


def _identity(resources: list[RecordedResource], stack: str | None) -> tuple[str, str]:
    for r in resources:
        urn_stack, project, _ = urn_parts(r.urn)
        return project, stack or urn_stack
    return "", stack or ""


def _stack_outputs(states: list[dict]) -> dict:
    for state in states:
        if isinstance(state, dict) and state.get("type") == "pulumi:pulumi:Stack":
            return plain(state.get("outputs") or {})
    return {}


def _from_digest(doc: dict) -> EngineDocument:
    latest: dict[str, tuple[int, dict]] = {}
    gone: set[str] = set()
    for i, step in enumerate(doc["steps"]):
        if not isinstance(step, dict) or not isinstance(step.get("op"), str):
            raise EngineJsonError([f"steps[{i}]: a step needs a string `op`"])
        op, new = step["op"], step.get("newState")
        urn = step.get("urn") or (new or {}).get("urn") or (step.get("oldState") or {}).get("urn")
        if op in GONE_OPS:
            gone.add(urn)
            continue
        if op in READ_OPS or not isinstance(new, dict):
            continue
        if new.get("external") or new.get("delete"):
            continue
        if "provider" not in new and step.get("provider"):
            new = {**new, "provider": step["provider"]}
        latest[new["urn"] if isinstance(new.get("urn"), str) else urn] = (i, new)
    # A replacement deletes the old copy and creates the new under one URN: the new one stays.
    kept = sorted(latest.values(), key=lambda item: item[0])
    resources = [resource(state, f"steps[{i}].newState") for i, state in kept]
    project, stack = _identity(resources, None)
    config = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    return EngineDocument("preview-digest", project, stack, resources, config=config,
                          outputs=_stack_outputs([s for _, s in kept]))


def _from_deployment(kind: str, deployment: Any, stack: str | None) -> EngineDocument:
    if not isinstance(deployment, dict):
        raise EngineJsonError([f"{'deployment' if kind == 'stack-export' else 'checkpoint.latest'}: must be an object"])
    states = deployment.get("resources") or []
    if not isinstance(states, list):
        raise EngineJsonError(["resources: must be a list"])
    kept = [(i, s) for i, s in enumerate(states)
            if not (isinstance(s, dict) and (s.get("delete") or s.get("external")))]
    resources = [resource(state, f"resources[{i}]") for i, state in kept]
    project, stack_name = _identity(resources, stack if isinstance(stack, str) else None)
    if isinstance(stack, str) and "/" in stack:
        stack_name = stack.rsplit("/", 1)[-1]  # organization/project/stack
    return EngineDocument(kind, project, stack_name, resources, outputs=_stack_outputs([s for _, s in kept]))


def _from_own(doc: dict) -> EngineDocument:
    resources = []
    for i, data in enumerate(doc["resources"]):
        if not isinstance(data, dict) or not isinstance(data.get("urn"), str):
            raise EngineJsonError([f"resources[{i}]: must be an object with a string 'urn'"])
        resources.append(RecordedResource.from_json({**data, "name": data.get("name") or urn_parts(data["urn"])[2],
                                                     "type": data.get("type") or data["urn"].split("::")[2]}))
    facility = doc.get("facility") if isinstance(doc.get("facility"), dict) else None
    config = {"aifactory:facility": facility} if facility else {}
    return EngineDocument("aifactory-preview", str(doc.get("project") or ""), doc["stack"], resources,
                          config=config, outputs=dict(doc.get("outputs") or {}), facility=facility)
