"""JUnit XML for CI test reports: every policy of the pack is a test suite.

`render(doc)` turns a preview JSON document into a `<testsuites>` document:

* a resource policy has one test case per resource of the preview (the `resources` with
  `custom: true`: real cloud resources, not components or the stack), failed where a violation
  names that policy and that resource's URN;
* a stack policy (it judges the whole stack) has one test case, failed by any of its violations;
* a violation that names a resource the list does not have still gets its own failed case, so no
  violation is ever lost from the report.

A policy is a stack policy when the pack's metadata says so (`policy_type`: `stack`, as the
Analyzer's PolicyInfo reports it), or, without that, when one of its violations names no resource.
Failures carry the enforcement as their `type` (mandatory or advisory); a disabled policy's cases
are skipped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean(value: object) -> str:
    """Text XML 1.0 can carry (control characters dropped)."""
    return _NOT_XML.sub("", "" if value is None else str(value))


def policy_kind(info: dict, violations: list[dict]) -> str:
    """`stack` or `resource` (see the module docstring)."""
    for key in ("policy_type", "type", "kind"):
        value = str(info.get(key) or "").lower()
        if "stack" in value:
            return "stack"
        if "resource" in value:
            return "resource"
    return "stack" if any(v.get("urn") in (None, "") for v in violations) else "resource"


def _failure(case: ET.Element, violations: list[dict]) -> None:
    mandatory = any(v.get("enforcement") == "mandatory" for v in violations)
    first = violations[0]
    failure = ET.SubElement(case, "failure", {
        "message": clean(first.get("message") or first.get("policy") or "policy violation"),
        "type": "mandatory" if mandatory else (first.get("enforcement") or "advisory"),
    })
    failure.text = clean("\n".join(
        f"[{v.get('enforcement')}] {v.get('message')}" + (f"\nresource: {v['urn']}" if v.get("urn") else "")
        for v in violations
    ))


def render(doc: dict) -> str:
    """The JUnit XML document (a string with its XML declaration) of a preview's policy results."""
    stack = doc.get("stack") or "stack"
    policies = doc.get("policies") or {}
    pack = policies.get("pack") or "aifactory"
    violations = [v for v in policies.get("violations") or [] if isinstance(v, dict)]
    by_policy: dict[str, list[dict]] = defaultdict(list)
    for v in violations:
        by_policy[v.get("policy") or "unknown"].append(v)
    infos = {p.get("name"): p for p in policies.get("policies") or [] if p.get("name")}
    for name in by_policy:  # violations of a rule the metadata lacks
        infos.setdefault(name, {"name": name, "enforcement_level": by_policy[name][0].get("enforcement")})
    resources = [r for r in doc.get("resources") or [] if isinstance(r, dict) and r.get("custom", True) and r.get("urn")]
    known = {r["urn"] for r in resources}

    root = ET.Element("testsuites", {"name": f"aifactory preview {stack}"})
    from aifactory.report.markdown import preview_summary_line

    estimate_summary = preview_summary_line(doc) if doc.get("estimate") else ""
    totals = defaultdict(int)
    for name, info in infos.items():
        own = by_policy.get(name, [])
        kind = policy_kind(info, own)
        enforcement = (info.get("enforcement_level") or "advisory").lower()
        suite = ET.SubElement(root, "testsuite", {"name": clean(f"{pack}.{name}")})
        props = ET.SubElement(suite, "properties")
        for key, value in (("stack", stack), ("policy", name), ("policy_kind", kind), ("enforcement_level", enforcement),
                           ("description", info.get("description") or ""), ("policy_config", policies.get("config") or ""),
                           ("estimate", estimate_summary)):
            ET.SubElement(props, "property", {"name": key, "value": clean(value)})
        cases: list[tuple[ET.Element, bool, bool]] = []
        classname = clean(f"aifactory.{stack}.{name}")
        if kind == "stack":
            case = ET.SubElement(suite, "testcase", {"classname": classname, "name": f"stack {stack}", "time": "0"})
            if own:
                _failure(case, own)
            cases.append((case, bool(own), False))
        else:
            by_urn: dict[str | None, list[dict]] = defaultdict(list)
            for v in own:
                by_urn[v.get("urn")].append(v)
            for resource in resources:
                case = ET.SubElement(suite, "testcase", {
                    "classname": classname,
                    "name": clean(f"{resource.get('type', '')} {resource.get('name') or resource['urn'].rsplit('::', 1)[-1]}".strip()),
                    "time": "0",
                })
                hits = by_urn.get(resource["urn"], [])
                if hits:
                    _failure(case, hits)
                elif enforcement == "disabled":
                    ET.SubElement(case, "skipped", {"message": "policy disabled"})
                cases.append((case, bool(hits), not hits and enforcement == "disabled"))
            for urn, hits in by_urn.items():
                if urn in known:
                    continue
                label = urn.rsplit("::", 1)[-1] if urn else f"stack {stack}"
                case = ET.SubElement(suite, "testcase", {"classname": classname, "name": clean(label), "time": "0"})
                _failure(case, hits)
                cases.append((case, True, False))
        failures = sum(1 for _, failed, _ in cases if failed)
        skipped = sum(1 for _, _, skip in cases if skip)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", str(skipped))
        suite.set("time", "0")
        totals["tests"] += len(cases)
        totals["failures"] += failures
        totals["skipped"] += skipped
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", "0")
    root.set("skipped", str(totals["skipped"]))
    root.set("time", "0")
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
