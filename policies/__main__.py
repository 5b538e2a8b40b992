"""The aifactory policy pack: built here from the rule families of `aifactory.policies`.

Started by the Pulumi CLI (`pulumi preview --policy-pack policies`) or by `aifactory.analyzer`,
with the project importable (the project's virtualenv installs it; the analyzer sets PYTHONPATH).
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from aifactory.policies import all_policies

PolicyPack(
    "aifactory",
    policies=all_policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
    description="aifactory: power, cost, region, fabric, security, storage and node-health gates for GPU facilities.",
)
