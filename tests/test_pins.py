"""Catalog figures that shipped stacks, examples and documented commands stand on, pinned.

Each table row is the sourced value as the catalog holds it. An edit of one of these rows -- a
price, a node power, a fabric count, a storage step, a PUE -- fails here, so a change of a figure
a team's estimate or gate depends on is always a deliberate one (update the row, its source and
date in the catalog, and this table, in one commit). The shipped stacks' estimates are then
recomputed from the pinned figures, independently of `aifactory.estimate`, and compared with what
`aifactory validate STACK --format json` prints.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from aifactory import catalog

ROOT = Path(__file__).resolve().parent.parent
HOURS = 730

# (cloud, instance type, region, capacity) -> USD per node-hour
PRICES = {
    ("aws", "p5.48xlarge", "us-east-1", "on-demand"): 55.04,
    ("aws", "p5.48xlarge", "us-east-1", "capacity-block"): 41.528,
    ("aws", "p4d.24xlarge", "eu-central-1", "on-demand"): 27.43298,
    ("azure", "Standard_ND96isr_H100_v5", "eastus", "on-demand"): 98.32,
    ("gcp", "a3-megagpu-8g", "us-central1", "on-demand"): 93.40071,
}

# (cloud, instance type) -> (GPUs, node power W, fabric, fabric interfaces, fabric Gbps, host NICs, MTU)
INSTANCES = {
    ("aws", "p5.48xlarge"): (8, 10200.0, "efa", 32, 3200.0, None, None),
    ("aws", "p4d.24xlarge"): (8, 6500.0, "efa", 4, 400.0, None, None),
    ("azure", "Standard_ND96isr_H100_v5"): (8, 10200.0, "infiniband", 8, 3200.0, None, None),
    ("gcp", "a3-megagpu-8g"): (8, 10200.0, "gpudirect-tcpxo", 8, 1600.0, 1, 8244),
}

# (cloud, kind, throughput MB/s per TiB) -> (SKU, min GiB, step GiB, GiB per TiB, USD per GiB-month)
STORAGE = {
    ("aws", "lustre", 125): ("PERSISTENT_2", 1200, 2400, 1000, 0.145),
    ("aws", "lustre", 250): ("PERSISTENT_2", 1200, 2400, 1000, None),
    ("azure", "lustre", 125): ("AMLFS-Durable-Premium-125", 16384, 16384, 1024, None),
    ("gcp", "lustre", 1000): ("tier-1000", 9000, 9000, 1024, None),
}

PUE = {"aws": 1.15, "azure": 1.12, "gcp": 1.09}

# stack -> (cloud, region, [(instance type, nodes, capacity)], filesystem (kind, throughput, GiB) or None)
STACKS = {
    "vision-prod": ("aws", "us-east-1", [("p5.48xlarge", 16, "capacity-block"), ("p5.48xlarge", 2, "on-demand")],
                    ("lustre", 250, 48000)),
    "speech-prod": ("azure", "eastus", [("Standard_ND96isr_H100_v5", 4, "on-demand")], ("lustre", 125, 16384)),
    "llm-prod": ("gcp", "us-central1", [("a3-megagpu-8g", 8, "on-demand")], ("lustre", 1000, 36000)),
    "examples/Pulumi.research-bigrun.yaml": ("aws", "us-east-1", [("p5.48xlarge", 256, "capacity-block")], None),
    "examples/Pulumi.vision-frankfurt.yaml": ("aws", "eu-central-1", [("p4d.24xlarge", 4, "on-demand")], None),
}


@pytest.mark.parametrize("key", sorted(PRICES), ids="-".join)
def test_price_pinned(key):
    price = catalog.price(*key)
    assert price is not None, key
    assert price.usd_per_hour == PRICES[key]
    assert price.source and price.source_date


@pytest.mark.parametrize("key", sorted(INSTANCES), ids="-".join)
def test_instance_figures_pinned(key):
    itype = catalog.instance(*key)
    assert itype is not None, key
    got = (itype.gpu_count, itype.node_power_w, itype.fabric, itype.fabric_interfaces, itype.fabric_gbps,
           itype.host_nics, itype.fabric_mtu)
    assert got == INSTANCES[key]
    assert itype.source and itype.source_date


@pytest.mark.parametrize("key", sorted(STORAGE), ids=lambda k: "-".join(map(str, k)))
def test_storage_figures_pinned(key):
    cloud, kind, throughput = key
    skus = [s for s in catalog.storage_skus(cloud, kind) if s.throughput_mbps_per_tib == throughput]
    assert len(skus) == 1, skus
    sku = skus[0]
    assert (sku.sku, sku.min_gib, sku.step_gib, sku.gib_per_tib, sku.usd_per_gib_month) == STORAGE[key]
    assert sku.source and sku.source_date


@pytest.mark.parametrize("cloud", sorted(PUE))
def test_pue_pinned(cloud):
    assert catalog.pue(cloud).pue == PUE[cloud]


def validate(stack: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "aifactory", "validate", stack, "--format", "json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_shipped_stack_estimate_from_the_pinned_figures(stack):
    cloud, region, fleets, filesystem = STACKS[stack]
    estimate = validate(stack)["estimate"]

    usd = it_kw = 0.0
    for itype, nodes, capacity in fleets:
        usd += PRICES[(cloud, itype, region, capacity)] * HOURS * nodes
        it_kw += INSTANCES[(cloud, itype)][1] * nodes / 1000
    if filesystem is not None:
        kind, throughput, gib = filesystem
        per_gib = STORAGE[(cloud, kind, throughput)][4]
        usd += per_gib * gib if per_gib is not None else 0.0
    gpus = sum(INSTANCES[(cloud, itype)][0] * nodes for itype, nodes, _ in fleets)

    assert estimate["gpus"] == gpus
    assert estimate["nodes"] == sum(nodes for _, nodes, _ in fleets)
    assert math.isclose(estimate["monthly_usd"], usd, abs_tol=0.01), (estimate["monthly_usd"], usd)
    assert math.isclose(estimate["it_power_kw"], it_kw, abs_tol=0.001)
    assert math.isclose(estimate["facility_power_kw"], it_kw * PUE[cloud], abs_tol=0.001)
    assert estimate["pue"] == PUE[cloud]
    if filesystem is not None:
        line = next(line for line in estimate["lines"] if line["kind"] == "filesystem")
        assert line["capacity_gib"] == filesystem[2]


def test_every_pinned_row_is_used_by_a_stack():
    """The tables above hold what the stacks use and nothing stale."""
    used_prices = {(c, t, r, cap) for c, r, fleets, _ in STACKS.values() for t, _, cap in fleets}
    assert used_prices == set(PRICES)
    used_types = {(c, t) for c, _, fleets, _ in STACKS.values() for t, _, _ in fleets}
    assert used_types == set(INSTANCES)
