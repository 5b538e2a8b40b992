"""What a change to a stack does: the difference between two preview JSON documents.

`aifactory diff BASE.json HEAD.json` (see `aifactory.diffcmd`) reads two documents written by
`aifactory preview STACK --format json` -- the stack before and after a pull request -- and says
what the change adds or removes in resources (by URN, with a path-level diff of the inputs that
changed), in GPUs, nodes, monthly cost and facility power per fleet and filesystem, and in policy
violations (new, resolved, still there). Either side may be absent (`None`): a new stack has no
base, a deleted stack has no head.

This module is pure data in, data out: no Pulumi or cloud SDK, no I/O beyond `load`. The result
of `diff` is plain JSON (the shape is documented on `diff`); the renderers in `aifactory.report`
and the text output of the command read only that.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Iterable

from aifactory import stdinput

SCHEMA = "aifactory.diff/1"
ABSENT = "none"  # the command-line word for "this side has no preview" (a new or deleted stack)
STDIN = stdinput.STDIN

# Inputs whose values are never printed in full (the recorder unwraps secrets; a diff must not
# put them in a pull-request comment). Matched case-insensitively against the last path segment.
SENSITIVE_WORDS = ("password", "secret", "token", "privatekey", "private_key", "credential")
UNKNOWN = "<unknown>"  # aifactory.recording.UNKNOWN: a value not known until the resource exists

LINE_FIELDS = ("item", "cloud", "region", "capacity", "nodes", "gpus", "capacity_gib")
NUMBER_FIELDS = ("monthly_usd", "it_power_kw", "facility_power_kw")
# Energy, carbon and compute (aifactory.energy). A preview written before they existed lacks them: such a
# line is not "changed" for that, and the change in the figure is unknown (null), never zero.
ENERGY_FIELDS = ("energy_mwh_month", "co2e_t_month", "pflops_bf16", "pflops_fp8")
ENERGY_TOTALS = ENERGY_FIELDS + ("co2e_t_month_market_based", "pflops_per_mw")


class PreviewError(Exception):
    """A preview document that cannot be read or is not a preview; the command exits 2."""


# --------------------------------------------------------------------------- input


def load(arg: str) -> dict | None:
    """Read one side: a path, `-` for standard input, or `none` for an absent side."""
    if arg.strip().lower() == ABSENT:
        return None
    where = "standard input" if arg == STDIN else arg
    try:
        text = stdinput.read(arg)
    except FileNotFoundError:
        raise PreviewError(f"{where}: no such file (use '{ABSENT}' for a stack that has no preview on this side)") from None
    except IsADirectoryError:
        raise PreviewError(f"{where}: is a directory, not a preview JSON file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PreviewError(f"{where}: cannot be read: {error}") from None
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise PreviewError(f"{where}: not JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    except RecursionError:
        raise PreviewError(f"{where}: not a preview document: nested too deeply") from None
    except ValueError as error:  # NaN/Infinity, or an integer too long to read
        raise PreviewError(f"{where}: not JSON ({error})") from None
    problems = check(doc)
    if problems:
        raise PreviewError(f"{where}: not an aifactory preview document:\n  " + "\n  ".join(problems))
    return doc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def check(doc: Any) -> list[str]:
    """Problems that make `doc` unusable as a preview document (empty list: fine)."""
    from aifactory import preview_schema

    return preview_schema.problems(doc)


def enforcement(violation: dict) -> str:
    """A violation's enforcement level, lower-case; a violation without one blocks (mandatory)."""
    return (violation.get("enforcement") or "mandatory").lower()


# --------------------------------------------------------------------------- the diff


def diff(
    base: dict | None,
    head: dict | None,
    *,
    max_increase_usd: float | None = None,
    max_increase_kw: float | None = None,
) -> dict:
    """The difference between two preview documents, as JSON-ready data.

    Shape (every money figure is USD per month at 730 h, every power figure kW)::

        {"schema": "aifactory.diff/1", "stack": str, "project": str|null,
         "base": SIDE|null, "head": SIDE|null,        # SIDE: {stack, stack_config, policy_config, cloud,
                                                       #  region, gpus, nodes, monthly_usd, it_power_kw,
                                                       #  facility_power_kw, budget_usd, complete, missing,
                                                       #  resources, mandatory, advisory}
         "totals": {"gpus"|"nodes"|"monthly_usd"|"it_power_kw"|"facility_power_kw"|"budget_usd"|
                    "resources"|"mandatory_violations"|"advisory_violations":
                        {"base": n|null, "head": n|null, "delta": n|null}},
         "gpu_models": [{"model": "H100", "base": n, "head": n, "delta": n}],
         "lines": [{"kind", "name", "status": added|removed|changed|unchanged, "changed": [field..],
                    "gpu_model", "base": LINE|null, "head": LINE|null,
                    "delta": {"nodes", "gpus", "capacity_gib", "monthly_usd", "it_power_kw", "facility_power_kw"}}],
         "resources": {"added": [RES], "removed": [RES], "changed": [RES + {"replace": bool, "changes": [CHANGE]}],
                       "unchanged": n},    # RES: {urn, type, name, protect, custom}
                                           # CHANGE: {path, op: added|removed|changed, base, head}
         "violations": {"new": [V], "resolved": [V], "unchanged": [V], "escalated": [V]},
                                           # V: {policy, enforcement, message, urn, base_enforcement?}
         "new_mandatory": n,
         "exact": {"monthly_usd": bool, "it_power_kw": bool, "facility_power_kw": bool},
                                           # false: an added/changed/removed line lacks the figure, so the
                                           # change in that total leaves it out (never guessed)
         "limits": {"max_increase_usd": n|null, "max_increase_kw": n|null,
                    "crossed": [{"limit", "value", "increase", "message"}],
                    "unverified": [{"limit", "message"}]},
         "notes": [str], "facility": {"base": SPEC|null, "head": SPEC|null},   # the previews' `facility`
         "verdict": "pass"|"fail", "reasons": [str], "exit_code": 0|1}
    """
    if base is None and head is None:
        raise PreviewError(f"both sides are '{ABSENT}': give at least one preview")
    either = head if head is not None else base
    stack = either.get("stack")
    notes: list[str] = []
    if base is not None and head is not None and base.get("stack") != head.get("stack"):
        notes.append(f"the stacks differ: base is {base.get('stack')!r}, head is {head.get('stack')!r}")
    if base is None:
        notes.append("new stack: there is no base preview, so everything is added")
    if head is None:
        notes.append("deleted stack: there is no head preview, so everything is removed")

    lines = diff_lines(base, head)
    totals = diff_totals(base, head)
    violations = diff_violations(base, head)
    new_mandatory = sum(1 for v in violations["new"] if v["enforcement"] == "mandatory") + len(violations["escalated"])
    result = {
        "schema": SCHEMA,
        "stack": stack,
        "project": either.get("project"),
        "base": side_summary(base),
        "head": side_summary(head),
        "totals": totals,
        "gpu_models": gpu_model_deltas(lines),
        "lines": lines,
        "resources": diff_resources(base, head),
        "violations": violations,
        "new_mandatory": new_mandatory,
        "limits": check_limits(totals, lines, max_increase_usd, max_increase_kw, without_lines(base, head)),
        "exact": {
            key: all(line["delta"][key] is not None for line in lines if line["status"] != "unchanged")
            for key in NUMBER_FIELDS + ENERGY_FIELDS
        },
        "notes": notes,
        "facility": {"base": (base or {}).get("facility"), "head": (head or {}).get("facility")},
    }
    reasons = []
    if new_mandatory:
        reasons.append(f"{new_mandatory} new mandatory policy violation{'s' if new_mandatory != 1 else ''}")
    reasons += [c["message"] for c in result["limits"]["crossed"]]
    reasons += [u["message"] for u in result["limits"]["unverified"]]
    result["reasons"] = reasons
    result["verdict"] = "fail" if reasons else "pass"
    result["exit_code"] = 1 if reasons else 0
    return result


def side_summary(doc: dict | None) -> dict | None:
    if doc is None:
        return None
    est = doc.get("estimate") or {}
    facility = doc.get("facility") or {}
    budget = facility.get("budget") or {}
    violations = (doc.get("policies") or {}).get("violations") or []
    return {
        "stack": doc.get("stack"),
        "stack_config": doc.get("stack_config"),
        "policy_config": (doc.get("policies") or {}).get("config"),
        "cloud": facility.get("cloud"),
        "region": facility.get("region"),
        "gpus": est.get("gpus", 0),
        "nodes": est.get("nodes", 0),
        "monthly_usd": est.get("monthly_usd"),
        "it_power_kw": est.get("it_power_kw"),
        "facility_power_kw": est.get("facility_power_kw"),
        **{key: est.get(key) for key in ENERGY_TOTALS},
        "load_factor": est.get("load_factor"),
        "budget_usd": budget.get("monthly_usd"),
        "complete": bool(est.get("complete", not est.get("missing"))),
        "missing": list(est.get("missing") or []),
        "resources": len(doc.get("resources") or []),
        "mandatory": sum(1 for v in violations if enforcement(v) == "mandatory"),
        "advisory": sum(1 for v in violations if enforcement(v) == "advisory"),
    }


def _delta(base: Any, head: Any, base_present: bool, head_present: bool) -> dict:
    """{base, head, delta}; an absent side counts as zero, an unknown (null) figure makes the delta null."""
    b = base if base_present else 0
    h = head if head_present else 0
    delta = None if (b is None or h is None) else _round(h - b)
    return {"base": base if base_present else None, "head": head if head_present else None, "delta": delta}


def _round(value: float) -> float | int:
    if isinstance(value, int):
        return value
    rounded = round(value, 3)
    return int(rounded) if rounded == int(rounded) and abs(rounded) < 2**53 else rounded


def diff_totals(base: dict | None, head: dict | None) -> dict:
    b, h = side_summary(base), side_summary(head)
    totals = {}
    for key in ("gpus", "nodes", "monthly_usd", "it_power_kw", "facility_power_kw", *ENERGY_TOTALS, "budget_usd",
                "resources"):
        totals[key] = _delta(b and b[key], h and h[key], b is not None, h is not None)
    totals["mandatory_violations"] = _delta(b and b["mandatory"], h and h["mandatory"], b is not None, h is not None)
    totals["advisory_violations"] = _delta(b and b["advisory"], h and h["advisory"], b is not None, h is not None)
    return totals


def _lines(doc: dict | None) -> dict[tuple[str, str], dict]:
    if doc is None:
        return {}
    return {(line["kind"], line["name"]): line for line in (doc.get("estimate") or {}).get("lines") or []}


def gpu_model(line: dict | None) -> str | None:
    """The GPU model of a fleet line's instance type, from the catalog (None if unknown)."""
    if not line or line.get("kind") != "fleet" or not line.get("item"):
        return None
    try:
        from aifactory import catalog

        itype = catalog.instance(line.get("cloud") or "", line["item"])
    except Exception:  # a catalog that cannot be read must not break a diff
        return None
    return itype.gpu_model if itype else None


def diff_lines(base: dict | None, head: dict | None) -> list[dict]:
    before, after = _lines(base), _lines(head)
    keys = list(before)
    keys += [k for k in after if k not in before]
    out = []
    for key in keys:
        b, h = before.get(key), after.get(key)
        if b is None:
            status, changed = "added", []
        elif h is None:
            status, changed = "removed", []
        else:
            changed = [f for f in LINE_FIELDS + NUMBER_FIELDS if b.get(f) != h.get(f)]
            changed += [f for f in ENERGY_FIELDS if f in b and f in h and b[f] != h[f]]
            status = "changed" if changed else "unchanged"
        delta = {}
        for f in ("nodes", "gpus", "capacity_gib") + NUMBER_FIELDS + ENERGY_FIELDS:
            delta[f] = _delta(b and b.get(f), h and h.get(f), b is not None, h is not None)["delta"]
        model = gpu_model(h) or gpu_model(b)
        out.append({
            "kind": key[0],
            "name": key[1],
            "status": status,
            "changed": changed,
            "gpu_model": model,
            "base": _line_view(b),
            "head": _line_view(h),
            "delta": delta,
        })
    order = {"fleet": 0, "filesystem": 1}
    out.sort(key=lambda line: order.get(line["kind"], 2))  # stable: fleets first, each kind in document order
    return out


def _line_view(line: dict | None) -> dict | None:
    if line is None:
        return None
    keep = LINE_FIELDS + NUMBER_FIELDS + ENERGY_FIELDS + ("pflops_per_mw", "grid_gco2e_per_kwh", "usd_per_hour",
                                                         "price_basis", "notes")
    return {k: line.get(k) for k in keep}


def gpu_model_deltas(lines: list[dict]) -> list[dict]:
    base: dict[str, int] = defaultdict(int)
    head: dict[str, int] = defaultdict(int)
    for line in lines:
        if line["kind"] != "fleet":
            continue
        model = line["gpu_model"] or "GPU"
        if line["base"]:
            base[model] += line["base"].get("gpus") or 0
        if line["head"]:
            head[model] += line["head"].get("gpus") or 0
    models = list(dict.fromkeys(list(head) + list(base)))
    return [{"model": m, "base": base.get(m, 0), "head": head.get(m, 0), "delta": head.get(m, 0) - base.get(m, 0)} for m in models]


# --------------------------------------------------------------------------- resources


def _resources(doc: dict | None) -> dict[str, dict]:
    if doc is None:
        return {}
    return {r["urn"]: r for r in doc.get("resources") or []}


def _resource_view(r: dict) -> dict:
    return {
        "urn": r["urn"],
        "type": r.get("type") or _urn_type(r["urn"]),
        "name": r.get("name") or r["urn"].rsplit("::", 1)[-1],
        "custom": bool(r.get("custom", True)),
        "protect": bool(r.get("protect", False)),
    }


def _urn_type(urn: str) -> str:
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


# Provider inputs that place resources somewhere else: when one changes, every resource of that
# provider is created anew there (the engine replaces them), whatever its own inputs say.
PLACEMENT_KEYS = ("region", "location", "project", "subscriptionId", "tenantId", "zone")


def _is_provider(resource: dict) -> bool:
    return (resource.get("type") or "").startswith("pulumi:providers:") or "::pulumi:providers:" in resource["urn"]


def _placement(resource: dict) -> dict:
    inputs = resource.get("inputs") or {}
    return {k: inputs[k] for k in PLACEMENT_KEYS if k in inputs}


def diff_resources(base: dict | None, head: dict | None) -> dict:
    before, after = _resources(base), _resources(head)
    added = [_resource_view(after[u]) for u in after if u not in before]
    removed = [_resource_view(before[u]) for u in before if u not in after]
    moved = {
        urn: (_placement(before[urn]), _placement(h))
        for urn, h in after.items()
        if urn in before and _is_provider(h) and _placement(before[urn]) != _placement(h)
    }
    changed = []
    unchanged = 0
    for urn, h in after.items():
        b = before.get(urn)
        if b is None:
            continue
        changes = diff_values(b.get("inputs") or {}, h.get("inputs") or {})
        for meta in ("provider", "parent", "protect"):
            if b.get(meta) != h.get(meta):
                changes.append({"path": f"({meta})", "op": "changed", "base": b.get(meta), "head": h.get(meta)})
        provider_moved = b.get("provider") == h.get("provider") and h.get("provider") in moved
        if provider_moved:
            was, now = moved[h["provider"]]
            changes.append({"path": "(provider placement)", "op": "changed", "base": was, "head": now})
        if changes:
            view = _resource_view(h)
            view["changes"] = changes
            # A custom resource whose provider changes (another region, account or subscription) is
            # deleted and created again by the engine; for a protected one the engine refuses.
            view["replace"] = bool(view["custom"] and not _is_provider(h)
                                   and (b.get("provider") != h.get("provider") or provider_moved))
            view["protect"] = bool(b.get("protect", False) or h.get("protect", False))
            changed.append(view)
        else:
            unchanged += 1
    return {"added": added, "removed": removed, "changed": changed, "unchanged": unchanged}


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    safe = key.replace("_", "").replace("-", "").isalnum()
    segment = key if safe else json.dumps(key)
    return f"{path}.{segment}" if path else segment


def _mask(path: str, value: Any) -> Any:
    last = path.rsplit(".", 1)[-1].lower()
    if value is not None and any(word in last for word in SENSITIVE_WORDS):
        return "<redacted>"
    return value


def diff_values(base: Any, head: Any, path: str = "") -> list[dict]:
    """Path-level differences between two input values: dicts by key, lists by index.

    A list whose elements are all scalars is compared whole (one change), so a reordered tag list
    or security-group list reads as one line rather than one per position."""
    if base == head:
        return []
    if isinstance(base, dict) and isinstance(head, dict):
        out = []
        for key in list(base) + [k for k in head if k not in base]:
            sub = _join(path, key)
            if key not in head:
                out.append({"path": sub, "op": "removed", "base": _mask(sub, base[key]), "head": None})
            elif key not in base:
                out.append({"path": sub, "op": "added", "base": None, "head": _mask(sub, head[key])})
            else:
                out.extend(diff_values(base[key], head[key], sub))
        return out
    if isinstance(base, list) and isinstance(head, list) and any(isinstance(x, dict | list) for x in base + head):
        out = []
        for i in range(max(len(base), len(head))):
            sub = _join(path, i)
            if i >= len(head):
                out.append({"path": sub, "op": "removed", "base": base[i], "head": None})
            elif i >= len(base):
                out.append({"path": sub, "op": "added", "base": None, "head": head[i]})
            else:
                out.extend(diff_values(base[i], head[i], sub))
        return out
    return [{"path": path or "(inputs)", "op": "changed", "base": _mask(path, base), "head": _mask(path, head)}]


# --------------------------------------------------------------------------- violations


def _violations(doc: dict | None) -> list[dict]:
    if doc is None:
        return []
    return [
        {"policy": v.get("policy"), "enforcement": enforcement(v),
         "message": v.get("message") or "", "urn": v.get("urn")}
        for v in (doc.get("policies") or {}).get("violations") or []
    ]


def diff_violations(base: dict | None, head: dict | None) -> dict:
    """Match violations by (policy, resource URN); within one key, equal messages pair first.

    A violation present on both sides whose enforcement became mandatory is `escalated` (it
    counts as a new mandatory violation: the change is what makes it block)."""
    before: dict[tuple, list[dict]] = defaultdict(list)
    for v in _violations(base):
        before[(v["policy"], v["urn"])].append(v)
    new, unchanged, escalated = [], [], []
    for v in _violations(head):
        candidates = before.get((v["policy"], v["urn"]))
        if not candidates:
            new.append(v)
            continue
        match = next((c for c in candidates if c["message"] == v["message"]), candidates[0])
        candidates.remove(match)
        if v["enforcement"] == "mandatory" and match["enforcement"] != "mandatory":
            escalated.append({**v, "base_enforcement": match["enforcement"]})
        else:
            unchanged.append(v)
    resolved = [v for group in before.values() for v in group]
    return {"new": new, "resolved": resolved, "unchanged": unchanged, "escalated": escalated}


# --------------------------------------------------------------------------- limits


def without_lines(base: dict | None, head: dict | None) -> list[str]:
    """The sides that are present but have no estimate line: nothing there was recognised as a
    fleet or filesystem, so no increase can be proven small."""
    return [side for side, doc in (("base", base), ("head", head))
            if doc is not None and not (doc.get("estimate") or {}).get("lines")]


def check_limits(totals: dict, lines: list[dict], max_usd: float | None, max_kw: float | None,
                 empty_sides: list[str] = ()) -> dict:
    """Limits fail closed: an increase that cannot be computed because an added or changed line
    has no price (or no power figure), or because a side has no estimate lines at all, is
    `unverified`, and that fails like a crossing."""
    crossed, unverified = [], []
    for limit, value, key, unit in (
        ("max-increase-usd", max_usd, "monthly_usd", "USD/month"),
        ("max-increase-kw", max_kw, "facility_power_kw", "kW"),
    ):
        if value is None:
            continue
        increase = totals[key]["delta"]
        unknown = [
            f"{line['kind']} {line['name']}"
            for line in lines
            if line["status"] in ("added", "changed") and line["delta"][key] is None
        ]
        shown = fmt_usd(value) + "/month" if key == "monthly_usd" else fmt_kw(value)
        if empty_sides:
            unverified.append({
                "limit": limit,
                "message": f"the {'monthly cost' if key == 'monthly_usd' else 'facility power'} increase cannot be "
                           f"checked against --{limit} {shown}: the {' and '.join(empty_sides)} preview has no "
                           "estimate lines (limits fail closed)",
            })
        elif increase is not None and increase > value:
            got = fmt_usd(increase, signed=True) + "/month" if key == "monthly_usd" else fmt_kw(increase, signed=True)
            crossed.append({
                "limit": limit, "value": value, "increase": increase,
                "message": f"{'monthly cost' if key == 'monthly_usd' else 'facility power'} rises by {got}"
                           f"{' (without ' + ', '.join(unknown) + ', which the catalog cannot price)' if unknown else ''}, "
                           f"over --{limit} {shown}",
            })
        elif unknown:
            unverified.append({
                "limit": limit,
                "message": f"the {'monthly cost' if key == 'monthly_usd' else 'facility power'} increase cannot be "
                           f"checked against --{limit} {shown}: no {'price' if key == 'monthly_usd' else 'power figure'} "
                           f"for {', '.join(unknown)} (limits fail closed)",
            })
    return {"max_increase_usd": max_usd, "max_increase_kw": max_kw, "crossed": crossed, "unverified": unverified}


# --------------------------------------------------------------------------- words and numbers


def fmt_usd(value: float | None, signed: bool = False) -> str:
    """$1.03M, $540k, $980 (compact); `signed` puts + or - in front."""
    if value is None:
        return "n/a"
    sign = ("+" if value > 0 else "-" if value < 0 else "±") if signed else ("-" if value < 0 else "")
    v = abs(value)
    if v >= 1e6:
        text = f"${v / 1e6:.2f}M"
    elif v >= 1e4:
        text = f"${v / 1e3:.0f}k"
    elif v >= 1e3:
        text = f"${v / 1e3:.1f}k"
    else:
        text = f"${v:.0f}"
    return sign + text


def fmt_usd_exact(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.0f}"


def fmt_kw(value: float | None, signed: bool = False) -> str:
    """210 kW, 1.25 MW; `signed` puts + or - in front."""
    if value is None:
        return "n/a"
    sign = ("+" if value > 0 else "-" if value < 0 else "±") if signed else ("-" if value < 0 else "")
    v = abs(value)
    text = f"{v / 1000:.2f} MW" if v >= 1000 else f"{v:,.0f} kW"
    return sign + text


def fmt_t(value: float | None, signed: bool = False) -> str:
    """95 tCO2e, 3.5 tCO2e; `signed` puts + or - in front."""
    if value is None:
        return "n/a"
    sign = ("+" if value > 0 else "-" if value < 0 else "±") if signed else ("-" if value < 0 else "")
    v = abs(value)
    return sign + (f"{v:,.0f} tCO2e" if v >= 10 or v == 0 else f"{v:.1f} tCO2e")


def fmt_mwh(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    sign = ("+" if value > 0 else "-" if value < 0 else "±") if signed else ("-" if value < 0 else "")
    return sign + f"{abs(value):,.1f} MWh"


def fmt_pflops(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    sign = ("+" if value > 0 else "-" if value < 0 else "±") if signed else ("-" if value < 0 else "")
    return sign + f"{abs(value):,.1f} PFLOPS"


def fmt_int(value: int | float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    if signed:
        return f"+{value:,g}" if value > 0 else (f"{value:,g}" if value < 0 else "±0")
    return f"{value:,g}"


def fmt_gib(value: float | None) -> str:
    """Filesystem sizes in the API's GiB (clouds disagree on what a TiB of a filesystem is)."""
    return "n/a" if value is None else f"{value:,.0f} GiB"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def gpu_phrase(result: dict) -> str:
    """`+256 H100 GPUs`, `+64 H100, -16 A100 GPUs`, `±0 GPUs`."""
    moved = [m for m in result["gpu_models"] if m["delta"]]
    if not moved:
        return "±0 GPUs"
    parts = [f"{fmt_int(m['delta'], signed=True)} {m['model'] if m['model'] != 'GPU' else ''}".rstrip() for m in moved]
    return ", ".join(parts) + " GPUs"


def summary_line(result: dict) -> str:
    """The one line a reviewer reads first:
    `+256 H100 GPUs · +$1.03M/month · +210 kW · +95 tCO2e/month · 0 new mandatory violations`."""
    totals = result["totals"]
    cost = totals["monthly_usd"]["delta"]
    cost_text = fmt_usd(cost, signed=True) + "/month"
    exact = result.get("exact") or {}
    if not exact.get("monthly_usd", True):
        cost_text += " (incomplete)"
    power = fmt_kw(totals["facility_power_kw"]["delta"], signed=True)
    if not exact.get("facility_power_kw", True):
        power += " (incomplete)"
    carbon_delta = totals["co2e_t_month"]["delta"]
    carbon = ("n/a tCO2e" if carbon_delta is None else fmt_t(carbon_delta, signed=True)) + "/month"
    if not exact.get("co2e_t_month", True):
        carbon += " (incomplete)"
    n = result["new_mandatory"]
    parts = [gpu_phrase(result), cost_text, power, carbon, f"{n} new mandatory violation{'' if n == 1 else 's'}"]
    crossed = len(result["limits"]["crossed"]) + len(result["limits"]["unverified"])
    if crossed:
        parts.append(f"{crossed} limit{'s' if crossed != 1 else ''} crossed" if result["limits"]["crossed"]
                     else "limits unverified")
    return " · ".join(parts)


def short_value(value: Any, width: int = 60) -> str:
    """A value as one short line for tables: JSON, long strings cut with their length shown."""
    if value is None:
        return "null"
    if isinstance(value, str) and value.startswith("urn:pulumi:"):
        return value.rsplit("::", 1)[-1]  # a provider or parent reference: its name says enough
    if isinstance(value, str):
        text = value.replace("\r", "").replace("\n", "⏎")
        if len(text) > width:
            return json.dumps(text[: width - 10] + "…") + f" ({len(value):,} chars)"
        return json.dumps(text)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    if len(text) > width:
        kind = f"{len(value)} items" if isinstance(value, list | dict) else ""
        return text[: width - 1] + "…" + (f" ({kind})" if kind else "")
    return text


def iter_changes(result: dict) -> Iterable[tuple[dict, dict]]:
    for resource in result["resources"]["changed"]:
        for change in resource["changes"]:
            yield resource, change
