"""EC2 Capacity Blocks for ML price list (aws.amazon.com/ec2/capacityblocks/pricing/).

AWS publishes it as a web page only; the saved form read here is the JSON its public mirror
keeps (`metadata.last_updated`, `instance_types.<type>.pricing[].region_code /
hourly_rate_usd`). The rate is the reservation fee per instance-hour in force when the list
was read; a block is charged at the rate in force when it is bought.
"""

from __future__ import annotations

import json

from aifactory.catalog.importers import PriceRow

SOURCE_URL = "https://aws.amazon.com/ec2/capacityblocks/pricing/"
MIRROR_URL = "https://raw.githubusercontent.com/koyakimu/ec2-capacity-blocks-for-ml-pricing-json/main/data/pricing.json"


def recognizes(name: str, head: str) -> bool:
    return '"instance_types"' in head and '"metadata"' in head


def parse(text: str, *, source: str, captured: str = "") -> list[PriceRow]:
    data = json.loads(text)
    updated = str(data.get("metadata", {}).get("last_updated", ""))[:10] or captured
    rows = []
    for itype, entry in data.get("instance_types", {}).items():
        for p in entry.get("pricing", []):
            region, rate = p.get("region_code"), p.get("hourly_rate_usd")
            if not region or not rate:
                continue
            rows.append(PriceRow(
                "aws", itype, region, "capacity-block", float(rate), updated, source,
                f"price list as read {updated}",
                "Effective instance hourly rate of the Capacity Block reservation fee; AWS revises these prices "
                "several times a year and a block is charged at the rate in force when it is bought. The OS fee "
                "is billed on top.",
                statistic="list (reservation fee per instance-hour)",
            ))
    return rows
