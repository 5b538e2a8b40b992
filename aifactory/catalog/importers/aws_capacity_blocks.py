"""EC2 Capacity Blocks for ML price list (aws.amazon.com/ec2/capacityblocks/pricing/).

AWS publishes it as a web page only; the saved form read here is the JSON its public mirror
keeps (`metadata.last_updated`, `instance_types.<type>.pricing[].region_code /
hourly_rate_usd`). The rate is the reservation fee per instance-hour in force when the list
was read; a block is charged at the rate in force when it is bought.
"""

from __future__ import annotations

import json
import re

from aifactory.catalog.importers import PriceRow

SOURCE_URL = "https://aws.amazon.com/ec2/capacityblocks/pricing/"
# UltraServers are listed by their own name, priced per UltraServer-hour in a Local Zone: the
# catalog keeps their instance type, per instance-hour, in the zone's parent region (EC2 user guide:
# u-p6e-gb200x36 holds 9 p6e-gb200.36xlarge instances, u-p6e-gb200x72 holds 18).
ULTRASERVERS = {"u-p6e-gb200x36": ("p6e-gb200.36xlarge", 9), "u-p6e-gb200x72": ("p6e-gb200.36xlarge", 18)}
_LOCAL_ZONE = re.compile(r"^([a-z]{2}(?:-gov)?-[a-z]+-\d)-[a-z]+-\d+[a-z]?$")
MIRROR_URL = "https://raw.githubusercontent.com/koyakimu/ec2-capacity-blocks-for-ml-pricing-json/main/data/pricing.json"


def recognizes(name: str, head: str) -> bool:
    return '"instance_types"' in head and '"metadata"' in head


def parse(text: str, *, source: str, captured: str = "") -> list[PriceRow]:
    data = json.loads(text)
    updated = str(data.get("metadata", {}).get("last_updated", ""))[:10] or captured
    rows, seen = [], set()
    for itype, entry in data.get("instance_types", {}).items():
        for p in entry.get("pricing", []):
            region, rate = p.get("region_code"), p.get("hourly_rate_usd")
            if not region or not rate:
                continue
            statistic, note = "list (reservation fee per instance-hour)", ""
            if itype in ULTRASERVERS:
                itype_of, instances = ULTRASERVERS[itype]
                zone = _LOCAL_ZONE.match(region)
                note = f"{itype} {rate} USD/h for {instances} instances in {region}. "
                itype, rate, region = itype_of, round(float(rate) / instances, 6), zone.group(1) if zone else region
                statistic = "list (UltraServer reservation fee per hour / its instances)"
            if (itype, region) in seen:
                continue
            seen.add((itype, region))
            rows.append(PriceRow(
                "aws", itype, region, "capacity-block", float(rate), updated, source,
                f"price list as read {updated}",
                note + "Effective instance hourly rate of the Capacity Block reservation fee; AWS revises these "
                "prices several times a year and a block is charged at the rate in force when it is bought. The OS "
                "fee is billed on top.",
                statistic=statistic,
            ))
    return rows
