"""What every cloud's Facility shares: a filesystem sized by capacity_gib is built at that size."""

from __future__ import annotations

import pytest
import yaml

from aifactory import components
from aifactory.loader import load_facility
from aifactory.stackfile import PROJECT_ROOT
from tests.harness import run

# stack, filesystem type, its size input, the size in GiB, the value that input must carry
CASES = [
    ("vision-prod", "aws:fsx/lustreFileSystem:LustreFileSystem", "storageCapacity", 48000, 48000),
    ("speech-prod", "azure-native:storagecache:AmlFilesystem", "storageCapacityTiB", 16384, 16),
    ("llm-prod", "gcp:lustre/instance:Instance", "capacityGib", 36000, "36000"),
]


@pytest.mark.parametrize("stack, fs_type, key, gib, expected", CASES)
def test_capacity_gib_spec_builds_that_size(stack, fs_type, key, gib, expected):
    data = yaml.safe_load((PROJECT_ROOT / f"stacks/Pulumi.{stack}.yaml").read_text())["config"]["aifactory:facility"]
    fs = data["filesystems"][0]
    fs.pop("capacity_tib", None)
    fs["capacity_gib"] = gib
    spec = load_facility(data)

    result = run(lambda: components.build_facility(spec))
    [filesystem] = [r for r in result.resources if r.type == fs_type]
    assert filesystem.inputs[key] == expected
