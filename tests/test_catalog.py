"""The catalog: data integrity (sources, dates, keys, cross-file consistency) and the query API."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from aifactory import catalog
from aifactory.catalog import DATA_DIR

# The 19 instance types of the research reference (shared/reference/gpu_catalog.csv),
# hard-coded so the test does not read anything outside the repository.
REFERENCE_TYPES = [
    ("aws", "p4d.24xlarge"),
    ("aws", "p4de.24xlarge"),
    ("aws", "p5.48xlarge"),
    ("aws", "p5e.48xlarge"),
    ("aws", "p5en.48xlarge"),
    ("aws", "p6-b200.48xlarge"),
    ("aws", "g6e.48xlarge"),
    ("azure", "Standard_ND96asr_v4"),
    ("azure", "Standard_ND96amsr_A100_v4"),
    ("azure", "Standard_ND96isr_H100_v5"),
    ("azure", "Standard_ND96isr_H200_v5"),
    ("azure", "Standard_ND96isr_MI300X_v5"),
    ("azure", "Standard_ND128isr_NDR_GB200_v6"),
    ("gcp", "a2-highgpu-8g"),
    ("gcp", "a2-ultragpu-8g"),
    ("gcp", "a3-highgpu-8g"),
    ("gcp", "a3-megagpu-8g"),
    ("gcp", "a3-ultragpu-8g"),
    ("gcp", "a4-highgpu-8g"),
]

FILES = {
    "instances.csv": ("cloud", "instance_type"),
    "regions.csv": ("cloud", "instance_type", "region"),
    "prices.csv": ("cloud", "instance_type", "region", "capacity", "term"),
    "storage.csv": ("cloud", "kind", "sku", "throughput_mbps_per_tib"),
    "pue.csv": ("cloud",),
}


def _raw(name: str) -> list[dict[str, str]]:
    with open(os.path.join(DATA_DIR, name), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------- data integrity


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_row_has_source_and_date(name):
    rows = _raw(name)
    assert rows, f"{name} is empty"
    for i, r in enumerate(rows, start=2):
        assert r["source"].strip(), f"{name}:{i} has no source"
        assert r["source_date"].strip(), f"{name}:{i} has no source_date"


@pytest.mark.parametrize("name,key", sorted(FILES.items()))
def test_no_duplicate_keys(name, key):
    seen = set()
    for i, r in enumerate(_raw(name), start=2):
        k = tuple(r[c] for c in key)
        assert k not in seen, f"{name}:{i} duplicates {k}"
        seen.add(k)


def test_clouds_and_enums_are_known():
    for i in catalog.instances():
        assert i.cloud in catalog.CLOUDS
        assert i.fabric in catalog.FABRICS, i
    for p in catalog.prices():
        assert p.cloud in catalog.CLOUDS
        assert p.capacity in catalog.CAPACITY_TYPES, p
    for o in catalog._offerings():
        assert o.cloud in catalog.CLOUDS


def test_every_price_is_offered():
    for p in catalog.prices():
        assert p.region in catalog.regions(p.cloud, p.instance_type), (
            f"price for {p.cloud} {p.instance_type} in {p.region} ({p.capacity}) "
            "but regions.csv does not offer it there"
        )


def test_every_offering_and_price_names_a_catalog_instance():
    for o in catalog._offerings():
        assert catalog.instance(o.cloud, o.instance_type), o
    for p in catalog.prices():
        assert catalog.instance(p.cloud, p.instance_type), p


def test_counts_are_positive():
    for i in catalog.instances():
        assert i.gpu_count > 0, i.name
        for v in (
            i.gpu_memory_gib,
            i.vcpus,
            i.memory_gib,
            i.fabric_gbps,
            i.host_nics,
            i.fabric_mtu,
            i.node_power_w,
            i.local_nvme_tib,
        ):
            assert v is None or v > 0, i.name
        assert i.fabric_interfaces is None or i.fabric_interfaces >= 0
        if i.fabric == "none":
            assert not i.fabric_interfaces and i.fabric_gbps is None, i.name
        else:
            assert i.fabric_interfaces is None or i.fabric_interfaces > 0, i.name
    for p in catalog.prices():
        assert p.usd_per_hour > 0, p
    for s in catalog._storage():
        assert s.min_gib > 0 and s.gib_per_tib in (1000, 1024)
        assert s.step_gib is None or s.step_gib > 0
        assert s.max_gib is None or s.max_gib >= s.min_gib
        assert s.usd_per_gib_month is None or s.usd_per_gib_month > 0
        assert s.allows(s.min_gib), s.sku
        if s.usd_per_gib_month is not None:
            assert s.price_region, s.sku
    for c in catalog.CLOUDS:
        assert 1.0 < catalog.pue(c).pue < 3.0


def test_reference_instance_types_present():
    assert len(REFERENCE_TYPES) == 19
    for cloud, name in REFERENCE_TYPES:
        assert catalog.instance(cloud, name) is not None, (cloud, name)


def test_gpu_model_names_are_canonical():
    assert set(catalog.gpu_models()) <= {
        "A100", "A100-80GB", "H100", "H200", "B200", "B300", "GB200", "GB300", "L40S", "MI300X",
    }


# --------------------------------------------------------------------------- instances


@pytest.mark.parametrize(
    "name,interfaces",
    [("p5.48xlarge", 32), ("p5e.48xlarge", 32), ("p5en.48xlarge", 16),
     ("p6-b200.48xlarge", 8), ("p4d.24xlarge", 4), ("p4de.24xlarge", 4)],
)
def test_aws_efa_interfaces(name, interfaces):
    it = catalog.instance("aws", name)
    assert it.fabric == "efa"
    assert it.fabric_interfaces == interfaces


@pytest.mark.parametrize(
    "name,fabric,gpu_nics,host_nics,mtu",
    [
        ("a3-highgpu-8g", "gpudirect-tcpx", 4, 1, 8244),
        ("a3-megagpu-8g", "gpudirect-tcpxo", 8, 1, 8244),
        ("a3-ultragpu-8g", "rdma", 8, 2, 8896),
        ("a4-highgpu-8g", "rdma", 8, 2, 8896),
        ("a2-highgpu-8g", "none", 0, 1, None),
        ("a2-ultragpu-8g", "none", 0, 1, None),
    ],
)
def test_gcp_fabric(name, fabric, gpu_nics, host_nics, mtu):
    it = catalog.instance("gcp", name)
    assert (it.fabric, it.fabric_interfaces, it.host_nics, it.fabric_mtu) == (
        fabric, gpu_nics, host_nics, mtu,
    )


def test_capacity_block_types():
    blocks = {i.name for i in catalog.instances("aws") if i.capacity_block}
    assert blocks == {
        "p4d.24xlarge", "p5.48xlarge", "p5e.48xlarge", "p5en.48xlarge", "p6-b200.48xlarge",
        "p6-b300.48xlarge", "p6e-gb200.36xlarge",
    }
    assert not any(i.capacity_block for i in catalog.instances("gcp") + catalog.instances("azure"))


def test_instance_lookup():
    assert catalog.instance("AWS", "P5.48XLARGE").name == "p5.48xlarge"
    assert catalog.instance("azure", "standard_nd96isr_h100_v5").gpu_count == 8
    assert catalog.instance("aws", "no-such-type") is None
    assert catalog.instance("nocloud", "p5.48xlarge") is None


def test_fabric_gbps_per_gpu():
    assert catalog.instance("aws", "p5.48xlarge").fabric_gbps_per_gpu == 400
    assert catalog.instance("azure", "Standard_ND96isr_H100_v5").fabric_gbps_per_gpu == 400
    assert catalog.instance("gcp", "a2-highgpu-8g").fabric_gbps_per_gpu is None


def test_instances_filters():
    assert {i.cloud for i in catalog.instances()} == set(catalog.CLOUDS)
    assert all(i.cloud == "gcp" for i in catalog.instances("gcp"))
    h100 = catalog.instances(gpu_model="h100")
    assert {i.name for i in h100} == {"p5.48xlarge", "Standard_ND96isr_H100_v5", "a3-highgpu-8g", "a3-megagpu-8g",
                                     "a3-edgegpu-8g"}


def test_resolve_gpu():
    assert [i.name for i in catalog.resolve_gpu("aws", "H100")] == ["p5.48xlarge"]
    assert [i.name for i in catalog.resolve_gpu("aws", "h100", 8)] == ["p5.48xlarge"]
    assert catalog.resolve_gpu("aws", "H100", 4) == []
    assert {i.name for i in catalog.resolve_gpu("aws", "H200")} == {"p5e.48xlarge", "p5en.48xlarge"}
    assert {i.name for i in catalog.resolve_gpu("gcp", "H100")} == {"a3-highgpu-8g", "a3-megagpu-8g", "a3-edgegpu-8g"}
    # the type with more fabric bandwidth first
    assert catalog.resolve_gpu("gcp", "H100")[0].name == "a3-megagpu-8g"
    assert [i.name for i in catalog.resolve_gpu("azure", "GB200")] == ["Standard_ND128isr_NDR_GB200_v6"]
    assert catalog.resolve_gpu("gcp", "MI300X") == []


# --------------------------------------------------------------------------- regions, zones


def test_zones_start_with_region_name():
    for o in catalog._offerings():
        if o.cloud in ("aws", "gcp"):
            for z in o.zones:
                assert z.startswith(o.region), (o.instance_type, o.region, z)
        if o.cloud == "azure":
            assert set(o.zones) <= {"1", "2", "3"}


def test_regions_and_zones():
    assert "us-east-1" in catalog.regions("aws", "p5.48xlarge")
    assert "eu-west-1" not in catalog.regions("aws", "p5.48xlarge")
    assert "us-central1-a" in catalog.zones("gcp", "a3-megagpu-8g", "us-central1")
    assert catalog.zones("gcp", "a3-megagpu-8g", "mars-north1") == ()
    # AWS: zone names are account-specific, so only zone IDs are recorded
    (use1,) = [o for o in catalog.offerings("aws", "p5.48xlarge") if o.region == "us-east-1"]
    assert use1.zones == () and "use1-az4" in use1.zone_ids
    assert catalog.regions("aws", "nonexistent") == []
    kr = catalog.known_regions("gcp")
    assert kr == sorted(kr) and "us-central1" in kr and "europe-west4" in kr


def test_reference_regions_present():
    # a sample of the reference's gpu_regions.csv
    for cloud, name, region in [
        ("aws", "p5e.48xlarge", "us-east-2"),
        ("aws", "p6-b200.48xlarge", "us-west-2"),
        ("aws", "g6e.48xlarge", "eu-south-2"),
        ("azure", "Standard_ND96isr_H100_v5", "westus"),
        ("azure", "Standard_ND96asr_v4", "westus2"),
        ("gcp", "a4-highgpu-8g", "europe-west1"),
        ("gcp", "a3-highgpu-8g", "australia-southeast2"),
        ("gcp", "a2-highgpu-8g", "me-west1"),
    ]:
        assert region in catalog.regions(cloud, name), (cloud, name, region)


# --------------------------------------------------------------------------- prices


def test_prices():
    p = catalog.price("aws", "p5.48xlarge", "us-east-1")
    assert p.usd_per_hour == pytest.approx(55.04) and p.capacity == "on-demand"
    assert catalog.price("aws", "p5e.48xlarge", "us-east-2") is None  # no on-demand list price
    assert catalog.price("aws", "p5e.48xlarge", "us-east-2", "capacity-block") is not None
    assert catalog.price("gcp", "a3-highgpu-8g", "us-central1").usd_per_hour == pytest.approx(88.49)
    assert catalog.price("gcp", "a2-highgpu-8g", "us-east4") is None  # not offered there
    assert catalog.price("gcp", "a4-highgpu-8g", "us-central1") is None  # no list price
    spot = catalog.price("gcp", "a3-highgpu-8g", "us-central1", "spot")
    assert spot.usd_per_hour < catalog.price("gcp", "a3-highgpu-8g", "us-central1").usd_per_hour
    assert catalog.price("azure", "Standard_ND96isr_H100_v5", "eastus").usd_per_hour == pytest.approx(98.32)
    with pytest.raises(ValueError):
        catalog.price("aws", "p5.48xlarge", "us-east-1", "ondemand")
    assert {p.cloud for p in catalog.prices()} == set(catalog.CLOUDS)
    assert all(p.cloud == "aws" for p in catalog.prices("aws"))


def test_no_superseded_prices():
    # the pre-June-2025 AWS levels (p5 98.32, p4d 32.7726) must not be in the catalog
    for p in catalog.prices("aws"):
        if p.capacity == "on-demand":
            assert p.usd_per_hour not in (98.32, 32.7726, 40.96575, 84.8), p


# --------------------------------------------------------------------------- storage


def test_storage_kinds():
    assert catalog.storage_kinds("aws") == ["lustre"]
    assert catalog.storage_kinds("azure") == ["lustre"]
    assert set(catalog.storage_kinds("gcp")) == {"lustre", "parallelstore", "filestore"}


def test_fsx_capacity_rules():
    fsx = catalog.storage_sku("aws", "lustre", 125)
    assert fsx.sku == "PERSISTENT_2" and fsx.gib_per_tib == 1000
    assert fsx.allows(1200)
    assert fsx.allows(2400)
    assert not fsx.allows(3600)
    assert fsx.allows(4800)
    assert not fsx.allows(1000)
    assert fsx.round_up(3000) == 4800
    assert fsx.round_up(1) == 1200
    assert fsx.tib_to_gib(1.2) == pytest.approx(1200)


def test_parallelstore_capacity_rules():
    ps = catalog.storage_sku("gcp", "parallelstore", None)
    assert ps is not None
    assert ps.allows(12000) and ps.allows(16000) and ps.allows(100000)
    assert not ps.allows(8000)
    assert not ps.allows(14000)
    assert not ps.allows(104000)
    assert ps.round_up(13000) == 16000
    assert ps.round_up(200000) is None


def test_parallelstore_price_from_the_pricing_page():
    ps = catalog.storage_sku("gcp", "parallelstore", None)
    # 0.0001917808 USD per GiB-hour (cloud.google.com/parallelstore/pricing, us-central1) x 730 h
    assert ps.usd_per_gib_month == pytest.approx(0.0001917808 * 730, rel=1e-9)
    assert ps.price_region == "us-central1" and ps.no_price_reason == ""
    assert "0,0001917808" in ps.source and "DERIVED" in ps.notes


def test_every_unpriced_storage_sku_says_what_was_searched():
    unpriced = [s for c in catalog.CLOUDS for s in catalog.storage_skus(c) if s.usd_per_gib_month is None]
    assert {(s.cloud, s.sku) for s in unpriced} >= {("aws", "PERSISTENT_2"), ("azure", "AMLFS-Durable-Premium-40"),
                                                    ("gcp", "tier-1000"), ("gcp", "dynamic")}
    for sku in unpriced:
        assert sku.no_price_reason.startswith("no public list price found (searched 2026-12-02)"), sku.key
        assert not sku.price_region and not sku.valid_from, sku.key


def test_gcp_lustre_capacity_rules():
    t1000 = catalog.storage_sku("gcp", "lustre", 1000)
    assert t1000.allows(9000) and t1000.allows(18000) and not t1000.allows(9216)
    assert t1000.allows(1530000)
    assert not t1000.allows(1539000)  # above the threshold the step is 72,000 GiB
    assert t1000.allows(1584000)
    assert catalog.storage_sku("gcp", "lustre", 125).min_gib == 72000
    assert catalog.storage_sku("gcp", "lustre", 250).min_gib == 36000
    assert catalog.storage_sku("gcp", "lustre", 500).min_gib == 18000
    assert catalog.storage_sku("gcp", "lustre", 333) is None


def test_azure_lustre_capacity_rules():
    p500 = catalog.storage_sku("azure", "lustre", 500)
    assert p500.sku == "AMLFS-Durable-Premium-500"
    assert p500.allows(4 * 1024) and p500.allows(8 * 1024) and not p500.allows(6 * 1024)
    p40 = catalog.storage_sku("azure", "lustre", 40)
    assert p40.min_gib == 48 * 1024 and not p40.allows(16 * 1024)


def test_filestore():
    z = catalog.storage_sku("gcp", "filestore", None)
    assert z.sku == "ZONAL"
    assert z.allows(1024) and z.allows(1280) and not z.allows(1100)
    assert z.allows(10240) and not z.allows(10496)  # 2.5 TiB steps from 10 TiB
    assert {s.sku for s in catalog.storage_skus("gcp", "filestore")} >= {"ZONAL", "BASIC_HDD", "BASIC_SSD"}


# --------------------------------------------------------------------------- pue, import


def test_pue():
    assert catalog.pue("aws").pue == 1.15
    assert catalog.pue("gcp").pue == 1.09
    assert catalog.pue("azure").pue == 1.12 and "UNVERIFIED" in catalog.pue("azure").notes
    assert catalog.pue("oracle").cloud == "industry"
    assert catalog.pue("oracle").pue == 1.56


def test_import_is_light():
    """The catalog imports nothing heavy (its speed is measured in bench/, not asserted here)."""
    code = (
        "import sys; import aifactory.catalog as c; "
        "print([m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pydantic', 'yaml', 'jinja2')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_new_blackwell_types_carry_their_documented_fabric_and_capacities():
    b300 = catalog.instance("aws", "p6-b300.48xlarge")
    # EC2 user guide: card 0 ENA only, EFA-only on cards 1-16 at 400 Gbps each
    assert (b300.gpu_count, b300.fabric_interfaces, b300.fabric_gbps) == (8, 16, 6400.0)
    assert b300.efa_cards == tuple(range(1, 17)) and b300.sold_as("on-demand")
    gb200 = catalog.instance("aws", "p6e-gb200.36xlarge")
    assert (gb200.gpu_count, gb200.efa_cards, gb200.fabric_gbps) == (4, (1, 5, 9, 13), 1600.0)
    assert gb200.arm64 and gb200.ultraserver_nodes == (9, 18)
    assert gb200.sold_as("capacity-block") and not gb200.sold_as("on-demand") and not gb200.sold_as("spot")
    a4x = catalog.instance("gcp", "a4x-highgpu-4g")
    assert (a4x.fabric, a4x.fabric_interfaces, a4x.host_nics, a4x.fabric_mtu) == ("rdma", 4, 2, 8896)
    assert a4x.capacities == ("reservation",) and a4x.arm64
    edge = catalog.instance("gcp", "a3-edgegpu-8g")
    assert (edge.fabric, edge.fabric_interfaces, edge.host_nics, edge.fabric_gbps) == ("gpudirect-tcpx", 4, 1, None)
    gb300 = catalog.instance("azure", "Standard_ND128isr_GB300_v6")
    assert (gb300.gpu_count, gb300.fabric, gb300.fabric_interfaces, gb300.fabric_gbps) == (4, "infiniband", 4, 3200.0)
    assert catalog.regions("azure", gb300.name) == []  # no region could be sourced
    # the older types keep the P5 layout: EFA with ENA on card 0, then one card after another
    assert catalog.instance("aws", "p5.48xlarge").efa_cards == tuple(range(32))
