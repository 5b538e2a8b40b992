"""Google Cloud prices from the published pricing export `pricing.yml` of
Cyclenerd/google-cloud-pricing-cost-calculator, generated from the Cloud Billing Catalog API.

`compute.instance.<machine type>.cost.<region>`: `hour` (on-demand: VM + GPUs + bundled local
SSD), `hour_spot` (Google sets one Spot price per region), `month_1y` / `month_3y` (1- and
3-year committed-use prices per 730-hour month, turned into per-hour prices here).
`about.generated` is the date the prices held.
"""

from __future__ import annotations

from datetime import datetime

import yaml

from aifactory.catalog.importers import PriceRow

SOURCE_URL = "https://raw.githubusercontent.com/Cyclenerd/google-cloud-pricing-cost-calculator/master/pricing.yml"
HOURS_PER_MONTH = 730


def recognizes(name: str, head: str) -> bool:
    return "google-cloud-pricing-cost-calculator" in head and "generated:" in head


def _generated(about: dict) -> str:
    text = str(about.get("generated", ""))
    try:
        return datetime.strptime(text, "%a %b %d %H:%M:%S %Y").date().isoformat()
    except ValueError:
        return ""


def parse(text: str, *, source: str, captured: str = "") -> list[PriceRow]:
    data = yaml.safe_load(text)
    generated = _generated(data.get("about", {})) or captured
    said = f"{generated} (pricing.yml 'generated: {data.get('about', {}).get('generated', '')}', from the Cloud Billing Catalog API)"
    rows = []
    for machine, spec in (data.get("compute", {}).get("instance") or {}).items():
        for region, cost in (spec.get("cost") or {}).items():
            def row(capacity, value, *, term="", statistic="list", notes=""):
                return PriceRow("gcp", machine, region, capacity, float(value), generated, source, said, notes, term, statistic)

            if cost.get("hour"):
                rows.append(row("on-demand", cost["hour"], notes="VM + GPUs + bundled local SSD, on-demand."))
            if cost.get("hour_spot"):
                rows.append(row("spot", cost["hour_spot"], statistic="regional price (Google sets one Spot price per region)",
                                notes="Spot VM price; Google may change Spot prices up to once a month."))
            for key, term in (("month_1y", "1yr"), ("month_3y", "3yr")):
                if cost.get(key):
                    rows.append(row("reservation", float(cost[key]) / HOURS_PER_MONTH, term=term,
                                    statistic=f"committed-use price: {key} / {HOURS_PER_MONTH} h",
                                    notes=f"{term[0]}-year resource-based committed use discount price."))
    return rows
