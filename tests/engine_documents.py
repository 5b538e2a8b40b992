"""What the real Pulumi CLI would write for a stack, built from the offline preview's recording:
the same resources in the engine's wrapping (`ResourceV3`: the unknown sentinel, `<urn>::<id>`
provider references, secrets as signed objects) inside a PreviewDigest, a stack export or a
checkpoint (shapes: pulumi/pulumi pkg/display/json.go and sdk/go/common/apitype/core.go)."""

from __future__ import annotations

import json
from typing import Any

WIRE_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SIG = "4dabf18193072939515e22adb298388d"
SECRET = "1b47061264138c4ac30d75fd1eb44270"


def wire(value: Any) -> Any:
    if value == "<unknown>":
        return WIRE_UNKNOWN
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire(v) for v in value]
    return value


def secret(value: Any) -> dict:
    return {SIG: SECRET, "plaintext": json.dumps(value)}


def state(resource: dict, *, provider_id: str = WIRE_UNKNOWN, secret_tags: bool = False) -> dict:
    inputs = wire(resource["inputs"])
    if secret_tags and isinstance(inputs.get("tags"), dict):
        inputs = {**inputs, "tags": secret(inputs["tags"])}
    out = {
        "urn": resource["urn"],
        "custom": resource["custom"],
        "type": resource["type"],
        "inputs": inputs,
        "outputs": inputs,
        "protect": resource["protect"],
        "dependencies": resource["dependencies"],
        "propertyDependencies": resource.get("propertyDependencies") or {},
    }
    if resource["custom"]:
        out["id"] = "" if provider_id == WIRE_UNKNOWN else f"{resource['name']}-id"
    if resource["parent"]:
        out["parent"] = resource["parent"]
    if resource["provider"]:
        out["provider"] = f"{resource['provider']}::{provider_id}"
    return out


def preview_digest(preview: dict, *, secret_tags: bool = False) -> dict:
    steps = []
    for resource in preview["resources"]:
        new = state(resource, secret_tags=secret_tags)
        step = {"op": "create", "urn": resource["urn"], "newState": new}
        if "provider" in new:
            step["provider"] = new["provider"]
        steps.append(step)
    config = {"aifactory:facility": json.dumps(preview["facility"])}
    return {"config": config, "steps": steps, "diagnostics": [], "duration": 1,
            "changeSummary": {"create": len(steps)}}


def deployment(preview: dict) -> dict:
    return {
        "manifest": {"time": "2026-12-01T00:00:00Z", "magic": "", "version": "v3.200.0"},
        "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:"}},
        "resources": [state(r, provider_id="04c7b2f4-provider") for r in preview["resources"]],
    }


def stack_export(preview: dict) -> dict:
    return {"version": 3, "deployment": deployment(preview)}


def checkpoint(preview: dict) -> dict:
    stack = f"organization/{preview['project']}/{preview['stack']}"
    return {"version": 3, "checkpoint": {"stack": stack, "latest": deployment(preview)}}
