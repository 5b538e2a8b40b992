"""Values the clouds or the engine would refuse, or read differently, are refused by path first."""

from __future__ import annotations

import pytest

from aifactory.loader import load_facility
from aifactory.problems import SpecError
from tests.test_spec import aws_facility, azure_facility, gcp_facility


def problems(data) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        load_facility(data)
    return {p.path: p.message for p in caught.value.problems}


def with_fleet(data, **changes):
    data["fleets"][0].update(changes)
    return data


@pytest.mark.parametrize("value, said", [
    (True, "must be a whole number, not the boolean true"),
    ("1_0", "must be a whole number, not the string '1_0'"),
    ("10", "must be a whole number, not the string '10'"),
    (2.0, "must be a whole number"),
])
def test_nodes_must_be_a_number_not_something_that_coerces(value, said):
    found = problems(with_fleet(aws_facility(), nodes=value))
    assert found["aifactory:facility.fleets[0].nodes"].startswith(said)


@pytest.mark.parametrize("value", ["off", "no", 0, "false"])
def test_nat_must_be_a_boolean(value):
    found = problems(aws_facility(network={"cidr": "10.40.0.0/16", "nat": value}))
    assert found["aifactory:facility.network.nat"].startswith("must be true or false")


@pytest.mark.parametrize("value", [1.0e308, 1e6])
def test_filesystem_capacity_has_a_finite_limit(value):
    data = aws_facility()
    data["filesystems"][0]["capacity_tib"] = value
    assert problems(data)["aifactory:facility.filesystems[0].capacity_tib"] == "must be at most 100,000"


@pytest.mark.parametrize("value, said", [(float("inf"), "must be a finite number"), (float("nan"), "must be a finite number"),
                                         (1e11, "must be at most 10,000,000,000")])
def test_budget_is_finite_and_bounded(value, said):
    data = aws_facility()
    data["budget"]["monthly_usd"] = value
    assert problems(data)["aifactory:facility.budget.monthly_usd"] == said


def test_no_fleets_needs_a_zone_on_aws_and_gcp_as_the_program_does():
    for make in (aws_facility, gcp_facility):
        found = problems(make(fleets=[]))
        assert found["aifactory:facility.zone"].startswith("is required on")
    load_facility(aws_facility(fleets=[], zone="use1-az4"))  # a storage-only facility with its zone is fine


@pytest.mark.parametrize("make, zone", [
    (gcp_facility, ""), (aws_facility, ""), (aws_facility, "us-east-1zzz"), (aws_facility, "us-east-1a;$(id)"),
    (aws_facility, "us-east-10a"), (gcp_facility, "us-central1-ab"), (gcp_facility, "us-central1-a; id"),
    (azure_facility, "4"), (azure_facility, "1a"),
])
def test_zone_names_must_be_the_regions(make, zone):
    assert "aifactory:facility.zone" in problems(make(zone=zone))


@pytest.mark.parametrize("make, zone", [(aws_facility, "us-east-1a"), (aws_facility, "use1-az4"),
                                        (gcp_facility, "us-central1-a"), (azure_facility, "1")])
def test_real_zone_names_pass(make, zone):
    assert "aifactory:facility.zone" not in _problems_or_none(make(zone=zone))


def _problems_or_none(data) -> dict[str, str]:
    try:
        load_facility(data)
    except SpecError as error:
        return {p.path: p.message for p in error.problems}
    return {}


@pytest.mark.parametrize("cidr", ["127.0.0.0/16", "169.254.0.0/16", "240.0.0.0/16", "100.64.0.0/16", "8.8.0.0/16"])
def test_cidr_must_be_rfc1918(cidr):
    found = problems(aws_facility(network={"cidr": cidr}))
    assert "10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16" in found["aifactory:facility.network.cidr"]


@pytest.mark.parametrize("cidr", ["10.40.0.0/16", "172.20.0.0/16", "192.168.0.0/16"])
def test_rfc1918_cidrs_pass(cidr):
    assert "aifactory:facility.network.cidr" not in _problems_or_none(aws_facility(network={"cidr": cidr}))


def test_aws_tag_limits():
    many = {f"k{i}": "v" for i in range(48)}
    assert "at most 50" in problems(aws_facility(tags=many))["aifactory:facility.tags"]  # 48 + aifactory's 3
    found = problems(aws_facility(tags={"k" * 129: "v", "long": "v" * 257, "aws:owner": "x", "Aws:x": "y",
                                        "ok": "aws:thing"}))
    assert "at most 128" in found["aifactory:facility.tags." + "k" * 129]
    assert "at most 256" in found["aifactory:facility.tags.long"]
    assert "reserved" in found["aifactory:facility.tags.aws:owner"]
    assert "reserved" in found["aifactory:facility.tags.Aws:x"]
    assert "values beginning aws:" in found["aifactory:facility.tags.ok"]
    load_facility(aws_facility(tags={f"k{i}": "v" * 256 for i in range(47)}))


def test_azure_tag_limits():
    found = problems(azure_facility(tags={"a/b": "v", "x" * 513: "v", "n": "v" * 257, "microsoftThing": "v"}))
    assert "cannot contain /" in found["aifactory:facility.tags.a/b"]
    assert "at most 512" in found["aifactory:facility.tags." + "x" * 513]
    assert "at most 256" in found["aifactory:facility.tags.n"]
    assert "reserved" in found["aifactory:facility.tags.microsoftThing"]
    assert "at most 50" in problems(azure_facility(tags={f"k{i}": "v" for i in range(48)}))["aifactory:facility.tags"]


def test_gcp_label_limits():
    found = problems(gcp_facility(tags={"Upper": "v", "k" * 64: "v", "ok": "V", "1st": "v"}))
    assert {"aifactory:facility.tags.Upper", "aifactory:facility.tags." + "k" * 64, "aifactory:facility.tags.ok",
            "aifactory:facility.tags.1st"} <= set(found)
    assert "at most 64" in problems(gcp_facility(tags={f"k{i}": "v" for i in range(62)}))["aifactory:facility.tags"]
    load_facility(gcp_facility(tags={f"k{i}": "v" for i in range(61)}))


def test_empty_tag_key_refused():
    assert "must not be empty" in problems(aws_facility(tags={"": "v"}))["aifactory:facility.tags."]


@pytest.mark.parametrize("name", ["root", "admin", "administrator", "guest", "sys", "support_388945a0"])
def test_azure_reserved_admin_usernames(name):
    data = azure_facility()
    data["azure"]["admin_username"] = name
    assert "Azure refuses" in problems(data)["aifactory:facility.azure.admin_username"]


def test_tag_values_must_be_strings():
    assert "must be a string" in problems(aws_facility(tags={"cost-center": 4711}))["aifactory:facility.tags.cost-center"]


def test_azure_tag_names_ignore_case():
    found = problems(azure_facility(tags={"Team": "speech", "Owner": "a", "owner": "b"}))
    assert "same tag as 'team'" in found["aifactory:facility.tags.Team"]
    assert "same tag as 'Owner'" in found["aifactory:facility.tags.owner"]
