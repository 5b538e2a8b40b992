"""The aifactory policy pack: built here from the rule families of `aifactory.policies`.

Started by the Pulumi CLI (`pulumi preview --policy-pack policies`) or by `aifactory.analyzer`,
with the project importable (the project's virtualenv installs it; the analyzer sets PYTHONPATH).
`make policy-pack` copies this file beside a vendored `aifactory/` for publishing: the CLI runs a
pack's folder first on sys.path, so there the vendored code is the one imported.
"""

from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

from aifactory.policies import all_policies
from aifactory.policies.cost import use_bundled_pricing

# The org's prices, bundled with the pack beside the limits; a policy config's cost-cap.pricing overrides it.
use_bundled_pricing(Path(__file__).resolve().parent / "config" / "pricing.yaml")
from aifactory.policies.conversion import share_conversions

share_conversions()

PolicyPack(
    "aifactory",
    policies=all_policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
    description="aifactory: power, cost, carbon, efficiency, region, fabric, security, storage and node-health gates for GPU facilities.",
)
