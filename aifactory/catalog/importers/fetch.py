"""Query code: download the public price feeds into a directory, for `aifactory catalog
refresh --online`. Kept apart from the parsers (which read only saved files), so CI and
air-gapped machines refresh from saved feeds with `--from DIR`. Not run by the tests (no
network there); each URL is the importer's own `SOURCE_URL`.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path

from aifactory.catalog.importers import aws_capacity_blocks, aws_offer_ec2, azure_retail, gcp_pricing_export

TIMEOUT = 120


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "aifactory-catalog-refresh"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return response.read()


def azure_pages(skus: list[str], out: Path) -> list[Path]:
    """Every page of the Retail Prices API for each VM SKU, saved as one JSON list of pages."""
    paths = []
    for sku in skus:
        url = "https://prices.azure.com/api/retail/prices?$filter=" + urllib.parse.quote(
            f"serviceName eq 'Virtual Machines' and armSkuName eq '{sku}'")
        pages = []
        while url:
            page = json.loads(_get(url))
            pages.append(page)
            url = page.get("NextPageLink")
        path = out / f"azure_retail_{sku}.json"
        path.write_text(json.dumps(pages))
        paths.append(path)
    return paths


def aws_ec2_offers(regions: list[str], out: Path) -> list[Path]:
    paths = []
    for region in regions:
        path = out / f"aws_ec2_{region}.json"
        path.write_bytes(_get(aws_offer_ec2.SOURCE_URL.format(region=region)))
        paths.append(path)
    return paths


def fetch_all(out: Path, *, azure_skus: list[str], aws_regions: list[str]) -> list[Path]:
    """Download every feed the importers read into ``out``; returns the saved files."""
    out.mkdir(parents=True, exist_ok=True)
    paths = azure_pages(azure_skus, out) + aws_ec2_offers(aws_regions, out)
    for name, url in (("ec2_capacity_blocks.json", aws_capacity_blocks.MIRROR_URL),
                      ("gcp_pricing.yml", gcp_pricing_export.SOURCE_URL)):
        (out / name).write_bytes(_get(url))
        paths.append(out / name)
    return paths


__all__ = ["fetch_all", "azure_retail"]
