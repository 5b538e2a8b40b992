"""What a valid facility still needs from its owner or should know before deploying: notes
`aifactory validate` prints (and lists under `notes` in its JSON). They block nothing."""

from __future__ import annotations

from aifactory.spec import FacilitySpec


def notes(spec: FacilitySpec) -> list[str]:
    found: list[str] = []
    if spec.budget is not None and spec.cloud == "aws":
        found.append(
            "AWS Budgets counts only activated cost-allocation tags: activate the tag key 'facility' "
            "(Billing and Cost Management > Cost allocation tags, in the management or standalone account; "
            "the key appears up to 24 h after the first tagged resource, activation takes up to 24 h more). "
            "Until then the budget reads $0: no alert and no kill switch fires."
        )
    blocks = [fleet.name for fleet in spec.fleets if fleet.capacity == "capacity-block"]
    if blocks and spec.budget is not None:
        found.append(
            f"Capacity Blocks are paid in full when purchased (fleet {', '.join(blocks)}): the budget counts "
            "that charge, and stopping the fleet's instances saves nothing."
        )
    return found
