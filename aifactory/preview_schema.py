"""The preview JSON (DESIGN.md's contract) as a pydantic model, for reading documents back.

`aifactory diff` reads two documents it did not write itself (CI artifacts, standard input), so
each is checked whole before anything is computed from it: types at every depth, finite and
bounded numbers, known enforcement levels, URNs once each, the facility as the spec it was
dumped from. `problems(doc)` lists every mismatch by its JSON path; none means the diff and its
renderers can read every field they touch.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aifactory.spec import FacilitySpec

ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")  # case-insensitive in a document
MAX_INPUT_DEPTH = 64  # resource inputs nest a few levels; far deeper is no engine's output

# Money in USD a month, power in kW, counts: far above any facility, low enough that sums and
# differences of two documents stay finite.
Amount = Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=10**12)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class Resource(_Strict):
    urn: str = Field(min_length=1)
    type: str | None = None
    name: str | None = None
    parent: str | None = None
    provider: str | None = None
    custom: bool = True
    protect: bool = False
    inputs: dict[str, Any] | None = None
    dependencies: list[str] = Field(default_factory=list)
    propertyDependencies: dict[str, list[str]] | None = None

    @field_validator("inputs")
    @classmethod
    def _not_too_deep(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and _depth(value) > MAX_INPUT_DEPTH:
            raise ValueError(f"nests deeper than {MAX_INPUT_DEPTH} levels")
        return value


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_INPUT_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


class Violation(_Strict):
    policy: str
    enforcement: str | None = None  # a missing level is read as mandatory
    message: str | None = None
    urn: str | None = None

    @field_validator("enforcement")
    @classmethod
    def _known_level(cls, value: str | None) -> str | None:
        if value is not None and value.lower() not in ENFORCEMENT_LEVELS:
            raise ValueError(f"'{value}' is not an enforcement level ({', '.join(ENFORCEMENT_LEVELS)})")
        return value


class PolicyInfo(_Strict):
    name: str
    description: str | None = None
    policy_type: str | None = None
    enforcement_level: str | None = None
    config_schema: dict[str, Any] | None = None


class Policies(_Strict):
    pack: str | None = None
    config: str | None = None
    policies: list[PolicyInfo] = Field(default_factory=list)
    violations: list[Violation] = Field(default_factory=list)


class Line(_Strict):
    kind: Literal["fleet", "filesystem"]
    name: str
    cloud: str | None = None
    region: str | None = None
    item: str | None = None
    nodes: Count | None = None
    gpus: Count | None = None
    capacity: str | None = None
    capacity_gib: Count | None = None
    usd_per_hour: Amount | None = None
    monthly_usd: Amount | None = None
    price_basis: str | None = None
    it_power_kw: Amount | None = None
    facility_power_kw: Amount | None = None
    notes: list[str] = Field(default_factory=list)
    desired_nodes: Count | None = None
    price_as_of: str | None = None
    price_term: str | None = None
    gpu_model: str | None = None
    load_factor: Amount | None = None
    energy_mwh_month: Amount | None = None
    grid_gco2e_per_kwh: Amount | None = None
    carbon_free_pct: Amount | None = None
    co2e_t_month: Amount | None = None
    co2e_t_month_market_based: Amount | None = None
    pflops_bf16: Amount | None = None
    pflops_fp8: Amount | None = None
    pflops_fp4: Amount | None = None
    pflops_per_mw: Amount | None = None
    usd_per_pflop_hour: Amount | None = None


class Estimate(_Strict):
    gpus: Count = 0
    nodes: Count = 0
    monthly_usd: Amount | None = None
    it_power_kw: Amount | None = None
    facility_power_kw: Amount | None = None
    pue: Annotated[float, Field(ge=1, le=10, allow_inf_nan=False)] | None = None
    pue_source: str | None = None
    complete: bool | None = None
    missing: list[str] = Field(default_factory=list)
    lines: list[Line] = Field(default_factory=list)
    desired_nodes: Count | None = None
    pricing: str | None = None
    prices_as_of: str | None = None
    undated_prices: list[str] = Field(default_factory=list)
    load_factor: Amount | None = None
    load_factor_source: str | None = None
    energy_mwh_month: Amount | None = None
    co2e_t_month: Amount | None = None
    co2e_t_month_market_based: Amount | None = None
    pflops_bf16: Amount | None = None
    pflops_fp8: Amount | None = None
    pflops_per_mw: Amount | None = None
    usd_per_pflop_hour: Amount | None = None


class PreviewDocument(_Strict):
    project: str | None = None
    stack: str = Field(min_length=1)
    stack_config: str | None = None
    facility: FacilitySpec | None = None
    resources: list[Resource]
    outputs: dict[str, Any] | None = None
    policies: Policies
    estimate: Estimate
    unknowns: list[str] = Field(default_factory=list)


_WORDS = {
    "missing": "is required", "list_type": "must be a list", "dict_type": "must be an object",
    "model_type": "must be an object", "model_attributes_type": "must be an object",
    "string_type": "must be a string", "int_type": "must be a whole number", "float_type": "must be a number",
    "bool_type": "must be true or false", "finite_number": "must be a finite number",
    "extra_forbidden": "is not a known key",
}


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def problems(doc: Any) -> list[str]:
    """Every way `doc` is not a preview document, as `path: what is wrong` (empty: fine)."""
    if not isinstance(doc, dict):
        return [f"the top level must be a JSON object, not {type(doc).__name__}"]
    try:
        PreviewDocument.model_validate(doc)
    except ValidationError as error:
        found = []
        for item in error.errors(include_url=False):
            message = _WORDS.get(item["type"]) or item["msg"].removeprefix("Value error, ")
            found.append(f"{_path(item['loc'])}: {message}")
        return found
    found = []
    seen: set[str] = set()
    for i, resource in enumerate(doc["resources"]):
        if resource["urn"] in seen:
            found.append(f"resources[{i}].urn: '{resource['urn']}' appears twice (a URN names one resource)")
        seen.add(resource["urn"])
    return found
