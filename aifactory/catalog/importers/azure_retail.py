"""Azure Retail Prices API (public JSON, paged `Items[]`).

Virtual-machine meters only: `type` Consumption is on-demand (or spot when `skuName`/`meterName`
ends in "Spot"; "Low Priority" is Batch capacity and skipped), Reservation rows carry the whole
term's price in `retailPrice` with `reservationTerm` "1 Year"/"3 Years" (turned into a
per-hour price over 8,760 h a year), DevTestConsumption is a subscription-offer price and
skipped, as are Windows meters (`productName` ends in "Windows"). A page states no date, so
`valid_from` is the date the page was captured (given by the caller).
"""

from __future__ import annotations

import json

from aifactory.catalog.importers import HOURS_PER_YEAR, PriceRow

SOURCE_URL = "https://prices.azure.com/api/retail/prices?$filter=serviceName eq 'Virtual Machines' and armSkuName eq '{sku}'"
TERM_YEARS = {"1 Year": (1, "1yr"), "3 Years": (3, "3yr")}


def recognizes(name: str, head: str) -> bool:
    return '"Items"' in head and ('"armSkuName"' in head or '"BillingCurrency"' in head)


def _capacity(item: dict) -> str | None:
    names = f"{item.get('skuName', '')} {item.get('meterName', '')}"
    if item.get("productName", "").rstrip().endswith("Windows"):
        return None
    if item.get("type") == "Reservation":
        return "reservation" if item.get("reservationTerm") in TERM_YEARS else None
    if item.get("type") != "Consumption" or "Low Priority" in names:
        return None
    return "spot" if names.rstrip().endswith("Spot") or " Spot " in f"{names} " else "on-demand"


def parse(text: str, *, source: str, captured: str) -> list[PriceRow]:
    """Rows for every Linux VM meter on the page(s): one JSON page (`{"Items": [...]}`) or a
    JSON list of pages."""
    data = json.loads(text)
    pages = data if isinstance(data, list) else [data]
    rows: dict[tuple, PriceRow] = {}
    for page in pages:
        for item in page.get("Items", []):
            if item.get("serviceName") != "Virtual Machines" or item.get("currencyCode") != "USD":
                continue
            capacity = _capacity(item)
            sku, region, price = item.get("armSkuName"), item.get("armRegionName"), item.get("retailPrice")
            if capacity is None or not sku or not region or not price:
                continue
            term = ""
            usd_per_hour = float(price)
            notes = f"Azure Retail Prices API meter '{item.get('meterName')}' ({item.get('productName')}), effectiveStartDate {item.get('effectiveStartDate', '')[:10]}."
            statistic = "list"
            if capacity == "reservation":
                years, term = TERM_YEARS[item["reservationTerm"]]
                usd_per_hour = float(price) / (years * HOURS_PER_YEAR)
                statistic = f"reservation: {price:g} USD for the {item['reservationTerm']} term / {years * HOURS_PER_YEAR} h"
            elif capacity == "spot":
                statistic = "regional Spot price the API states (Azure Spot prices move with capacity)"
            row = PriceRow("azure", sku, region, capacity, usd_per_hour, captured, source,
                           f"captured {captured}", notes, term, statistic)
            rows[row.key] = row
    return list(rows.values())
