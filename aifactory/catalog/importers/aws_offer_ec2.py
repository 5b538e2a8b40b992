"""AWS Price List bulk offer file for AmazonEC2 (one region's `index.json`).

On-demand Linux prices: products of family "Compute Instance" with `operatingSystem` Linux,
`tenancy` Shared, `capacitystatus` Used (not the AllocatedCapacityReservation variants),
`preInstalledSw` NA and `marketoption` OnDemand, and their `terms.OnDemand` price dimension in
USD per `Hrs`. The file prices GPU types twice: beside the on-demand product stands a
`marketoption` CapacityBlock twin that shares every other attribute (its hourly dimension is
0.00; Capacity Blocks are priced by their own list, `aws_capacity_blocks`). Files from before
AWS added `marketoption` state none and are read as on-demand. The file's `publicationDate` is
the date the prices held.
"""

from __future__ import annotations

import json

from aifactory.catalog.importers import PriceRow

SOURCE_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/{region}/index.json"
WANTED = {"operatingSystem": "Linux", "tenancy": "Shared", "capacitystatus": "Used", "preInstalledSw": "NA"}


def recognizes(name: str, head: str) -> bool:
    return '"offerCode"' in head and '"AmazonEC2"' in head


def _on_demand_product(product: dict) -> bool:
    attrs = product.get("attributes", {})
    return (product.get("productFamily", "").startswith("Compute Instance")
            and all(attrs.get(k) == v for k, v in WANTED.items())
            and attrs.get("marketoption", "OnDemand") == "OnDemand"
            and bool(attrs.get("regionCode")))


def parse(text: str, *, source: str, captured: str = "") -> list[PriceRow]:
    data = json.loads(text)
    published = str(data.get("publicationDate", ""))[:10] or captured
    on_demand = data.get("terms", {}).get("OnDemand", {})
    rows = []
    for sku, product in data.get("products", {}).items():
        if not _on_demand_product(product):
            continue
        attrs = product["attributes"]
        for term in on_demand.get(sku, {}).values():
            for dim in term.get("priceDimensions", {}).values():
                usd = dim.get("pricePerUnit", {}).get("USD")
                if dim.get("unit") != "Hrs" or not usd or float(usd) <= 0:
                    continue
                rows.append(PriceRow(
                    "aws", attrs["instanceType"], attrs["regionCode"], "on-demand", float(usd), published,
                    source.replace("{region}", attrs["regionCode"]),
                    f"offer file publicationDate {data.get('publicationDate', '')}",
                    f"Linux, shared tenancy on-demand ({dim.get('description', '').strip()}); term effective "
                    f"{term.get('effectiveDate', '')[:10]}.",
                ))
    return rows
