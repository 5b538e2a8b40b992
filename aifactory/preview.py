"""The offline engine: run the Pulumi program under the SDK's mocks, judge it with the real pack.

`preview(stack)` loads the stack config, refuses a bad one (SpecError) before anything runs,
runs `__main__.py` in-process under a recording mock monitor in preview mode (IDs unknown, as
for a new stack), starts the policy pack as its own process and drives it over its gRPC
Analyzer interface as the engine does, then estimates cost and power from the same inventory
the pack reads. No cloud is called.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aifactory import estimate as estimating
from aifactory import inventory as inventories
from aifactory import policyconfig, stackfile
from aifactory import project as projects
from aifactory.catalog.pricing import NO_PRICING, OrgPricing, to_document
from aifactory.loader import load_facility
from aifactory.spec import FacilitySpec, Problem, SpecError

PROJECT_ROOT = stackfile.PROJECT_ROOT
PROGRAM = PROJECT_ROOT / "__main__.py"
POLICY_PACK = projects.policy_pack_dir()
POLICY_CONFIG_DIR = POLICY_PACK / "config"


@dataclass
class Preview:
    project: str
    stack: str
    stack_config: Path
    spec: FacilitySpec
    resources: list[Any]
    outputs: dict
    pack: str
    policies: list[Any]
    violations: list[Any]
    policy_config: Path | None
    estimate: estimating.Estimate
    unknowns: list[Any] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Any]:
        return [v for v in self.violations if v.enforcement == "mandatory"]

    def to_json(self) -> dict:
        return {
            "project": self.project,
            "stack": self.stack,
            "stack_config": str(self.stack_config),
            "facility": self.spec.model_dump(mode="json"),
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
            "policies": {
                "pack": self.pack,
                "config": str(self.policy_config) if self.policy_config else None,
                "policies": [
                    {
                        "name": p.name,
                        "description": p.description,
                        "policy_type": getattr(p, "policy_type", None),
                        "enforcement_level": p.enforcement_level,
                        "config_schema": p.config_schema,
                    }
                    for p in self.policies
                ],
                "violations": [violation_json(v) for v in self.violations],
            },
            "estimate": self.estimate.to_json(),
            "unknowns": [str(u) for u in self.unknowns],
        }


def violation_json(violation) -> dict:
    return {"policy": violation.policy, "enforcement": violation.enforcement,
            "message": _own_message(violation), "urn": violation.urn}


def _own_message(violation) -> str:
    """The violation's own message, without the policy description the pack prefixes to it."""
    prefix = f"{violation.description}\n"
    if violation.description and violation.message.startswith(prefix):
        return violation.message[len(prefix) :]
    return violation.message


def default_policy_config(team: str, config_dir: Path | None = None) -> Path | None:
    """`<team>.json`, else `default.json`, in `config_dir` (default: the pack's own config folder)."""
    folder = config_dir or POLICY_CONFIG_DIR
    for candidate in (folder / f"{team}.json", folder / "default.json"):
        if candidate.is_file():
            return candidate
    return None


def program_config(stack: stackfile.StackFile) -> dict[str, str]:
    """The stack's config as the engine hands it to a program: structured values as JSON text."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in stack.config.items()}


def with_pricing(config: dict, pricing: OrgPricing) -> dict:
    """The policy config with the org pricing handed to the pack's cost-cap (which otherwise
    reads the pricing file bundled beside the pack)."""
    config = dict(config)
    cost_cap = config.get("cost-cap")
    cost_cap = dict(cost_cap) if isinstance(cost_cap, dict) else ({"enforcementLevel": cost_cap} if cost_cap else {})
    cost_cap["pricing"] = to_document(pricing)
    config["cost-cap"] = cost_cap
    return config


def preview(stack: str, policy_config: Path | None = None, pricing: OrgPricing | None = None,
            project_dir: Path | None = None, progress=None) -> Preview:
    """`project_dir`: the Pulumi project to run (default: the one at or above the working directory);
    `progress(message)` hears each phase as it starts."""
    from concurrent.futures import ThreadPoolExecutor

    from aifactory.analyzer import PolicyConfigError, PolicyPackClient, analyze_with
    from aifactory.recording import run_program

    try:
        project = projects.find(project_dir)
    except SpecError:
        if project_dir is not None or not Path(stack).is_file():
            raise
        project = projects.find(Path(stack).parent)  # a stack file given by path, from outside any project
    note = progress or (lambda message: None)
    stack_file = stackfile.read(stack, root=project.root)
    spec = load_facility(stack_file.facility)
    # A project's own policies/config (the org's limits, next to its stacks) wins over the pack's copy.
    project_configs = project.root / "policies" / "config"
    config_path = policy_config or default_policy_config(spec.team, project_configs if project_configs.is_dir() else None)
    config = policyconfig.load(config_path) if config_path else {}
    if pricing is not None:
        config = with_pricing(config, pricing)

    # The pack process starts (mostly importing the Pulumi SDK) while the program runs.
    with ThreadPoolExecutor(max_workers=1) as pool:
        note("starting the policy pack")
        starting = pool.submit(PolicyPackClient(POLICY_PACK, stop_grace=0).start)
        try:
            note(f"running the program {project.program}")
            run = run_program(project.program, project=project.name, stack=stack_file.name,
                              config=program_config(stack_file), known_ids=False)
        except BaseException:
            if starting.exception() is None:
                starting.result().close()
            raise
        with starting.result() as client:
            note(f"judging {len(run.resources)} resources")
            try:
                infos, violations = analyze_with(client, run.resources, config)
            except PolicyConfigError as error:  # what the engine refuses that policyconfig did not foresee
                raise policyconfig.PolicyConfigProblems(
                    [Problem(str(config_path), message) for message in error.errors]) from None
    inventory = inventories.from_resources(run.resources)
    pack = "aifactory"
    return Preview(
        project=run.project,
        stack=stack_file.name,
        stack_config=stack_file.path,
        spec=spec,
        resources=run.resources,
        outputs=run.outputs,
        pack=pack,
        policies=infos,
        violations=violations,
        policy_config=config_path,
        estimate=estimating.estimate(inventory, pricing or NO_PRICING, spec.load_factor),
        unknowns=list(getattr(inventory, "unknowns", [])),
    )
