"""SARIF 2.1.0 for GitHub code scanning: one result per policy violation of a preview.

`render(doc, stack_config_path)` turns a preview JSON document into a SARIF log whose rules are
the policy pack's rules (the preview's `policies.policies` metadata), whose results are the
violations (level `error` for mandatory, `warning` for advisory) and whose locations point into
the stack config file -- at the fleet, filesystem, network or budget entry the offending resource
comes from when that can be told from the resource's name or type, else at `aifactory:facility`.

GitHub's code scanning needs repository-relative paths and a `region.startLine` on every
result; both are always given. The resource's URN is the result's logical location, and a
fingerprint made from stack, policy and URN keeps an alert the same alert across runs.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path, PurePosixPath

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"mandatory": "error", "advisory": "warning", "remediate": "note", "disabled": "none"}
FACILITY_KEY = "aifactory:facility"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("aifactory")
    except Exception:  # not installed as a distribution (a plain checkout)
        return "0.0.0"


def level(enforcement: str | None) -> str:
    return LEVELS.get((enforcement or "advisory").lower(), "warning")


def artifact_uri(path: str) -> str:
    """A repository-relative POSIX path for the stack file (code scanning rejects absolute ones)."""
    p = Path(path)
    if p.is_absolute():
        for root in [Path.cwd(), *_git_roots(p)]:
            try:
                return p.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                continue
        return p.as_uri()  # outside any repository we can see: a file URI, still valid SARIF
    text = PurePosixPath(path.replace(os.sep, "/")).as_posix()
    return text[2:] if text.startswith("./") else text


def _git_roots(path: Path) -> list[Path]:
    return [parent for parent in path.parents if (parent / ".git").exists()][:1]


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


# --------------------------------------------------------------------------- locations


class StackFileLines:
    """Where things are declared in a stack file: read once, searched by plain patterns."""

    def __init__(self, path: str | None):
        self.lines: list[str] = []
        if path:
            try:
                self.lines = Path(path).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                self.lines = []

    def find(self, pattern: str, start: int = 0) -> int | None:
        regex = re.compile(pattern)
        for i in range(start, len(self.lines)):
            if regex.search(self.lines[i]):
                return i
        return None

    def facility_line(self) -> int:
        i = self.find(r"^\s*['\"]?" + re.escape(FACILITY_KEY) + r"['\"]?\s*:")
        return (i + 1) if i is not None else 1

    def section_entry(self, section: str, name: str) -> int | None:
        start = self.find(rf"^\s*{section}\s*:")
        if start is None:
            return None
        i = self.find(rf"\bname\s*:\s*['\"]?{re.escape(name)}['\"]?\s*(?:$|[,}}#])", start)
        return (i + 1) if i is not None else start + 1

    def key_line(self, key: str) -> int | None:
        i = self.find(rf"^\s*{key}\s*:")
        return (i + 1) if i is not None else None


NETWORK_TYPES = ("vpc", "subnet", "network", "securitygroup", "firewall", "route", "natgateway", "gateway", "placementgroup")


def locate(lines: StackFileLines, doc: dict, resource: dict | None, policy: str = "") -> int:
    """The 1-based line of the stack file a resource comes from (best effort, never 0). A
    stack-wide violation of a cost or budget rule points at the `budget:` entry, where the team
    states its money; any other at `aifactory:facility`."""
    default = lines.facility_line()
    if not lines.lines:
        return default
    if not resource:
        if any(word in policy for word in ("budget", "cost")):
            return lines.key_line("budget") or default
        return default
    facility = doc.get("facility") or {}
    prefix = f"{facility.get('name', '')}-"
    name = resource.get("name") or ""
    rtype = (resource.get("type") or "").lower()
    if "budget" in rtype:
        return lines.key_line("budget") or default
    rest = name[len(prefix):] if name.startswith(prefix) else name
    for section, items in (("fleets", facility.get("fleets") or []), ("filesystems", facility.get("filesystems") or [])):
        names = sorted((str(item.get("name")) for item in items if item.get("name")), key=len, reverse=True)
        for candidate in names:
            if rest == candidate or rest.startswith(candidate + "-"):
                return lines.section_entry(section, candidate) or default
    if any(word in rtype.replace("-", "").replace("_", "") for word in NETWORK_TYPES):
        return lines.key_line("network") or default
    return default


# --------------------------------------------------------------------------- the log


def _rules(doc: dict) -> list[dict]:
    policies = (doc.get("policies") or {})
    pack = policies.get("pack") or "aifactory"
    rules = []
    seen = set()
    for info in policies.get("policies") or []:
        name = info.get("name")
        if not name or name in seen:
            continue
        seen.add(name)
        description = info.get("description") or name
        enforcement = info.get("enforcement_level") or "advisory"
        rule = {
            "id": name,
            "name": pascal(name),
            "shortDescription": {"text": description.split("\n", 1)[0][:1000]},
            "fullDescription": {"text": description},
            "defaultConfiguration": {"level": level(enforcement)},
            "help": {
                "text": f"{description}\n\nPolicy pack `{pack}`, enforcement {enforcement}. "
                        "Org-owned limits come from the pack's config (policies/config/<team>.json); "
                        "a stack config cannot raise them.",
            },
            "properties": {
                "tags": _tags(pack),
                "enforcementLevel": enforcement,
            },
        }
        if info.get("remediation_steps"):
            rule["help"]["text"] += f"\n\nRemediation: {info['remediation_steps']}"
        if info.get("url"):
            rule["helpUri"] = info["url"]
        if info.get("config_schema"):
            rule["properties"]["configSchema"] = info["config_schema"]
        if info.get("policy_type"):
            rule["properties"]["policyType"] = info["policy_type"]
        rules.append(rule)
    for violation in policies.get("violations") or []:  # a violation of a rule the metadata lacks
        name = violation.get("policy")
        if name and name not in seen:
            seen.add(name)
            rules.append({
                "id": name,
                "name": pascal(name),
                "shortDescription": {"text": name},
                "defaultConfiguration": {"level": level(violation.get("enforcement"))},
                "properties": {"tags": _tags(pack)},
            })
    return rules


def _tags(pack: str) -> list[str]:
    return list(dict.fromkeys(["aifactory", "policy", pack]))  # SARIF tags are unique


def fingerprint(*parts: str | None) -> str:
    return hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()[:32]


def render(doc: dict, stack_config_path: str) -> dict:
    """The SARIF 2.1.0 log (a JSON-ready dict) of a preview document's policy violations."""
    policies = doc.get("policies") or {}
    rules = _rules(doc)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    resources = {r.get("urn"): r for r in doc.get("resources") or [] if isinstance(r, dict)}
    uri = artifact_uri(stack_config_path)
    lines = StackFileLines(stack_config_path)
    stack = doc.get("stack") or ""
    results = []
    for violation in policies.get("violations") or []:
        policy = violation.get("policy") or "unknown"
        urn = violation.get("urn")
        resource = resources.get(urn) if urn else None
        name = (resource or {}).get("name") or (urn.rsplit("::", 1)[-1] if urn else None)
        message = violation.get("message") or policy
        text = f"{message} (resource {name})" if name and name not in message else message
        result = {
            "ruleId": policy,
            "ruleIndex": index[policy],
            "level": level(violation.get("enforcement")),
            "message": {"text": text},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%", "index": 0},
                    "region": {"startLine": locate(lines, doc, resource, policy)},
                },
            }],
            "partialFingerprints": {"aifactoryViolation/v1": fingerprint(stack, policy, urn)},
            "properties": {"enforcement": violation.get("enforcement"), "stack": stack},
        }
        if urn:
            result["locations"][0]["logicalLocations"] = [
                {"name": name, "fullyQualifiedName": urn, "kind": "resource"}
            ]
            result["properties"]["urn"] = urn
            if resource and resource.get("type"):
                result["properties"]["resourceType"] = resource["type"]
        results.append(result)
    run = {
        "tool": {"driver": {
            "name": "aifactory",
            "semanticVersion": _version(),
            "rules": rules,
        }},
        "automationDetails": {"id": f"aifactory/{stack}/"},
        "artifacts": [{"location": {"uri": uri, "uriBaseId": "%SRCROOT%"}, "mimeType": "application/x-yaml"}],
        "invocations": [{"executionSuccessful": True}],
        "results": results,
        "properties": {
            "stack": stack,
            "project": doc.get("project"),
            "policyPack": policies.get("pack"),
            "policyConfig": policies.get("config"),
            "estimate": {key: (doc.get("estimate") or {}).get(key) for key in (
                "gpus", "monthly_usd", "facility_power_kw", "load_factor", "energy_mwh_month", "co2e_t_month",
                "co2e_t_month_market_based", "pflops_bf16", "pflops_fp8", "pflops_per_mw", "usd_per_pflop_hour", "missing")},
        },
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
