"""The facility spec: valid configs resolve; each rule refuses with its config path and message."""

from __future__ import annotations

import copy

import pytest

from aifactory.loader import load_facility
from aifactory.problems import SpecError
from aifactory.rules import filesystem_size_gib


def aws_facility(**overrides):
    data = {
        "name": "vision-train",
        "team": "vision",
        "cloud": "aws",
        "region": "us-east-1",
        "tags": {"cost-center": "cc-4711"},
        "fleets": [
            {"name": "trainers", "instance_type": "p5.48xlarge", "nodes": 16,
             "capacity": "capacity-block", "reservation_id": "cr-0123"},
        ],
        "network": {"cidr": "10.40.0.0/16"},
        "filesystems": [
            {"name": "scratch", "kind": "lustre", "capacity_tib": 48, "throughput_mbps_per_tib": 250,
             "data_repository": "s3://bucket/prefix"},
        ],
        "budget": {"monthly_usd": 1500000, "alert_emails": ["ml-infra@example.com"], "thresholds_pct": [50, 80, 100]},
    }
    data.update(overrides)
    return data


def problems(data) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        load_facility(data)
    return {p.path: p.message for p in caught.value.problems}


def test_design_example_is_valid_and_resolves_a_zone():
    spec = load_facility(aws_facility())
    assert spec.fleets[0].instance_type == "p5.48xlarge"
    assert spec.gpus == 128
    assert spec.zone.startswith("use1-az")  # AWS zone IDs: stable across accounts, unlike names
    assert spec.merged_tags()["managed-by"] == "aifactory"


def test_gpu_resolves_to_an_instance_type_offered_in_the_region():
    spec = load_facility(aws_facility(fleets=[{"name": "t", "gpu": "H100", "nodes": 2}]))
    assert spec.fleets[0].instance_type == "p5.48xlarge"


def test_nodes_must_be_at_least_one():
    data = aws_facility()
    data["fleets"][0]["nodes"] = 0
    assert problems(data) == {"aifactory:facility.fleets[0].nodes": "must be at least 1"}


def test_every_problem_is_listed_at_once():
    data = aws_facility(name="Vision_Train", cloud="aws")
    data["fleets"][0]["nodes"] = 0
    data["budget"]["monthly_usd"] = -5
    found = problems(data)
    assert set(found) == {
        "aifactory:facility.name",
        "aifactory:facility.fleets[0].nodes",
        "aifactory:facility.budget.monthly_usd",
    }
    assert "DNS-safe" in found["aifactory:facility.name"]


def test_unknown_key_is_named():
    found = problems(aws_facility(fleet=[]))
    assert found == {"aifactory:facility.fleet": "is not a known key (check the spelling)"}


def test_unknown_instance_type():
    data = aws_facility()
    data["fleets"][0]["instance_type"] = "p9.96xlarge"
    found = problems(data)
    assert "'p9.96xlarge' is not a aws GPU type" in found["aifactory:facility.fleets[0].instance_type"]


def test_instance_type_of_another_cloud():
    data = aws_facility()
    data["fleets"][0]["instance_type"] = "Standard_ND96isr_H100_v5"
    assert "aifactory:facility.fleets[0].instance_type" in problems(data)


def test_unknown_gpu_model_lists_models():
    found = problems(aws_facility(fleets=[{"name": "t", "gpu": "Z900", "nodes": 2}]))
    assert "GPU models on aws" in found["aifactory:facility.fleets[0].gpu"]


def test_instance_type_and_gpu_are_exclusive():
    found = problems(aws_facility(fleets=[{"name": "t", "gpu": "H100", "instance_type": "p5.48xlarge", "nodes": 2}]))
    assert found == {"aifactory:facility.fleets[0]": "give exactly one of instance_type or gpu"}


def test_type_not_offered_in_region_lists_its_regions():
    data = aws_facility(region="eu-west-1")
    data["filesystems"] = []
    found = problems(data)
    message = found["aifactory:facility.fleets[0].instance_type"]
    assert "p5.48xlarge is not offered in eu-west-1" in message and "us-east-1" in message


def test_aws_zone_id_checked_against_catalog():
    spec = load_facility(aws_facility(zone="use1-az4"))
    assert spec.zone == "use1-az4"
    found = problems(aws_facility(zone="usw2-az1"))
    assert "is not a zone ID of us-east-1" in found["aifactory:facility.zone"]


def test_default_zone_is_one_offering_every_fleet():
    spec = load_facility(gcp_facility())
    assert spec.zone in ("us-central1-a", "us-central1-b", "us-central1-c")


def test_zone_must_belong_to_region():
    found = problems(aws_facility(zone="us-west-2a"))
    assert "is not a zone of us-east-1" in found["aifactory:facility.zone"]


def test_reservation_id_required_for_capacity_block():
    data = aws_facility()
    del data["fleets"][0]["reservation_id"]
    assert problems(data) == {
        "aifactory:facility.fleets[0].reservation_id":
            "is required for capacity 'capacity-block' (the reservation to launch into)"
    }


def test_reservation_id_refused_on_demand():
    data = aws_facility()
    data["fleets"][0]["capacity"] = "on-demand"
    assert "aifactory:facility.fleets[0].reservation_id" in problems(data)


def test_capacity_block_only_on_types_sold_that_way():
    data = aws_facility()
    data["fleets"][0]["instance_type"] = "g6e.48xlarge"
    found = problems(data)
    assert "not sold as EC2 Capacity Blocks" in found["aifactory:facility.fleets[0].capacity"]


def test_capacity_block_is_aws_only():
    data = azure_facility()
    data["fleets"][0].update(capacity="capacity-block", reservation_id="crg")
    assert "AWS offering" in problems(data)["aifactory:facility.fleets[0].capacity"]


@pytest.mark.parametrize("capacity, gib", [(1.2, 1200), (2.4, 2400), (4.8, 4800), (48, 48000)])
def test_fsx_capacity_steps_accepted(capacity, gib):
    data = aws_facility()
    data["filesystems"][0]["capacity_tib"] = capacity
    spec = load_facility(data)
    assert filesystem_size_gib("aws", spec.filesystems[0]) == gib


@pytest.mark.parametrize("capacity", [1.0, 3.6, 50])
def test_fsx_capacity_steps_refused(capacity):
    data = aws_facility()
    data["filesystems"][0]["capacity_tib"] = capacity
    found = problems(data)
    assert "1.2 TiB or a multiple of 2.4 TiB" in found["aifactory:facility.filesystems[0].capacity_tib"]


def test_fsx_throughput_tiers():
    data = aws_facility()
    data["filesystems"][0]["throughput_mbps_per_tib"] = 300
    found = problems(data)
    assert "125, 250, 500, 1000" in found["aifactory:facility.filesystems[0].throughput_mbps_per_tib"]


def test_filesystem_kind_valid_for_cloud():
    data = aws_facility()
    data["filesystems"][0]["kind"] = "parallelstore"
    del data["filesystems"][0]["data_repository"]
    assert problems(data) == {"aifactory:facility.filesystems[0].kind": "aws offers: lustre"}


def test_data_repository_scheme_matches_cloud():
    data = aws_facility()
    data["filesystems"][0]["data_repository"] = "gs://bucket"
    assert "s3://" in problems(data)["aifactory:facility.filesystems[0].data_repository"]


def test_duplicate_fleet_names():
    data = aws_facility()
    data["fleets"].append(copy.deepcopy(data["fleets"][0]))
    assert "aifactory:facility.fleets[1].name" in problems(data)


def test_names_capped_for_cloud_name_limits():
    found = problems(aws_facility(name="a" * 25))
    assert found == {"aifactory:facility.name": "must be at most 24 characters"}


def test_cidr_must_be_valid_and_private():
    assert "not a valid network" in problems(aws_facility(network={"cidr": "10.40.0.1/16"}))["aifactory:facility.network.cidr"]
    assert "private IPv4" in problems(aws_facility(network={"cidr": "8.8.0.0/16"}))["aifactory:facility.network.cidr"]


def test_cidr_large_enough_for_the_fleets():
    data = aws_facility(network={"cidr": "10.40.0.0/24"})
    data["fleets"][0]["nodes"] = 124
    found = problems(data)
    assert found["aifactory:facility.network.cidr"] == (
        "its compute subnet (10.40.0.0/25) holds 123 nodes but the fleets have 124; use a larger range"
    )
    data["fleets"][0]["nodes"] = 123
    load_facility(data)


def test_budget_positive_and_emails_valid():
    data = aws_facility()
    data["budget"].update(monthly_usd=0, alert_emails=["not-an-email"])
    found = problems(data)
    assert found["aifactory:facility.budget.monthly_usd"] == "must be greater than 0"
    assert found["aifactory:facility.budget.alert_emails[0]"].startswith("is not a valid email address")


def test_thresholds_sorted_and_bounded():
    data = aws_facility()
    data["budget"]["thresholds_pct"] = [80, 50, 1200]
    found = problems(data)
    assert found["aifactory:facility.budget.thresholds_pct"] == "must be in ascending order without repeats"
    assert found["aifactory:facility.budget.thresholds_pct[2]"] == "must be between 1 and 1000 (percent)"


def test_reserved_tag_keys():
    data = aws_facility(tags={"team": "other"})
    assert "set by aifactory itself" in problems(data)["aifactory:facility.tags.team"]


def test_section_of_another_cloud_refused():
    data = aws_facility(gcp={"project": "my-project-1"})
    assert "is for cloud gcp" in problems(data)["aifactory:facility.gcp"]


def azure_facility(**overrides):
    data = {
        "name": "speech-prod",
        "team": "speech",
        "cloud": "azure",
        "region": "eastus",
        "fleets": [{"name": "trainers", "instance_type": "Standard_ND96isr_H100_v5", "nodes": 4}],
        "filesystems": [{"name": "scratch", "kind": "lustre", "capacity_tib": 16, "throughput_mbps_per_tib": 125}],
        "azure": {"ssh_public_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0 ops@example.com"]},
    }
    data.update(overrides)
    return data


def test_azure_facility_valid():
    spec = load_facility(azure_facility())
    assert spec.fleets[0].instance_type == "Standard_ND96isr_H100_v5"


def test_azure_lustre_sku_steps():
    data = azure_facility()
    data["filesystems"][0]["capacity_tib"] = 24
    found = problems(data)
    assert "16 TiB or a multiple of 16 TiB" in found["aifactory:facility.filesystems[0].capacity_tib"]


def test_azure_requires_ssh_keys():
    data = azure_facility(azure={"ssh_public_keys": []})
    assert "SSH keys only" in problems(data)["aifactory:facility.azure.ssh_public_keys"]


def gcp_facility(**overrides):
    data = {
        "name": "llm-prod",
        "team": "llm",
        "cloud": "gcp",
        "region": "us-central1",
        "fleets": [{"name": "trainers", "instance_type": "a3-megagpu-8g", "nodes": 8}],
        "filesystems": [{"name": "scratch", "kind": "lustre", "capacity_gib": 36000, "throughput_mbps_per_tib": 250}],
        "gcp": {"project": "llm-prod-1234"},
    }
    data.update(overrides)
    return data


def test_gcp_facility_valid():
    spec = load_facility(gcp_facility())
    assert (spec.cloud, spec.region, spec.gcp.project) == ("gcp", "us-central1", "llm-prod-1234")
    assert [(f.instance_type, f.nodes) for f in spec.fleets] == [("a3-megagpu-8g", 8)]
    assert filesystem_size_gib("gcp", spec.filesystems[0]) == 36000


def test_gcp_requires_project():
    data = gcp_facility()
    del data["gcp"]
    assert "aifactory:facility.gcp.project" in problems(data)


def test_gcp_budget_requires_billing_account():
    data = gcp_facility(budget={"monthly_usd": 10, "alert_emails": ["a@example.com"]})
    assert "aifactory:facility.gcp.billing_account" in problems(data)


def test_gcp_lustre_tier_minimum_in_gib():
    data = gcp_facility()
    data["filesystems"][0]["capacity_gib"] = 18000
    message = problems(data)["aifactory:facility.filesystems[0].capacity_gib"]
    assert message.startswith("18000 GiB is not a size tier-250 offers: it takes 36000 GiB")


def test_capacity_tib_and_gib_are_exclusive():
    data = gcp_facility()
    data["filesystems"][0]["capacity_tib"] = 36
    assert problems(data) == {"aifactory:facility.filesystems[0]": "give exactly one of capacity_tib or capacity_gib"}


def test_gcp_parallelstore_steps():
    data = gcp_facility()
    data["filesystems"] = [{"name": "ps", "kind": "parallelstore", "capacity_tib": 14}]
    assert "aifactory:facility.filesystems[0].capacity_tib" in problems(data)


def test_not_a_mapping():
    assert problems(["a"]) == {"aifactory:facility": "must be a mapping (see the README for its keys)"}


def test_filestore_tier_uses_its_own_steps():
    data = gcp_facility()
    data["filesystems"] = [{"name": "home", "kind": "filestore", "tier": "ENTERPRISE", "capacity_gib": 20480}]
    assert problems(data)["aifactory:facility.filesystems[0].capacity_gib"].endswith("up to 10240 GiB")
    data["filesystems"][0]["capacity_gib"] = 10240
    load_facility(data)


def test_filestore_unknown_tier():
    data = gcp_facility()
    data["filesystems"] = [{"name": "home", "kind": "filestore", "tier": "PLATINUM", "capacity_gib": 1024}]
    assert "ZONAL" in problems(data)["aifactory:facility.filesystems[0].tier"]


def test_aws_budget_thresholds_capped_at_five():
    data = aws_facility()
    data["budget"]["thresholds_pct"] = [10, 20, 30, 40, 50, 60]
    assert "at most 5 on aws" in problems(data)["aifactory:facility.budget.thresholds_pct"]


def test_gcp_budget_emails_capped_at_five():
    data = gcp_facility(budget={"monthly_usd": 10, "alert_emails": [f"a{i}@example.com" for i in range(6)]})
    data["gcp"]["billing_account"] = "012345-6789AB-CDEF01"
    assert "at most 5 on gcp" in problems(data)["aifactory:facility.budget.alert_emails"]


def test_budget_stop_refused_where_no_kill_switch_exists():
    data = azure_facility(budget={"monthly_usd": 10, "alert_emails": ["a@example.com"], "enforce": "stop"})
    assert "not available on azure" in problems(data)["aifactory:facility.budget.enforce"]
