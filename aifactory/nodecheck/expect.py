"""What a node must show: built from the catalog entry of its instance type, or read from the JSON the
bootstrap writes (the node itself has no catalog)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, Optional

FABRICS = ("efa", "infiniband", "gpudirect-tcpx", "gpudirect-tcpxo", "rdma", "none")


class ExpectationError(ValueError):
    """An expectation that cannot be used (bad JSON, unknown type, wrong field)."""


@dataclass(frozen=True)
class Expectation:
    instance_type: str
    cloud: str
    gpu_vendor: str  # nvidia | amd
    gpu_count: int
    gpu_name_contains: str  # matched against nvidia-smi's `name`
    gpu_memory_mib_min: Optional[int] = None
    power_default_w: Optional[float] = None
    nvlink_links: int = 0  # links per GPU; 0: no NVLink expected
    nvlink_gbps_per_link: Optional[float] = None
    fabric_manager: bool = False  # the nvidia-fabricmanager service runs on the node (HGX boards)
    fabric: str = "none"
    fabric_interfaces: int = 0
    fabric_gbps_per_interface: Optional[float] = None
    host_nics: int = 1
    nccl_busbw_gbps_min: Optional[float] = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


_TYPES = {
    "instance_type": str, "cloud": str, "gpu_vendor": str, "gpu_count": int, "gpu_name_contains": str,
    "gpu_memory_mib_min": int, "power_default_w": float, "nvlink_links": int, "nvlink_gbps_per_link": float,
    "fabric_manager": bool, "fabric": str, "fabric_interfaces": int, "fabric_gbps_per_interface": float,
    "host_nics": int, "nccl_busbw_gbps_min": float,
}


def from_json(text: str) -> Expectation:
    """An expectation from `--expect` JSON; every problem named by its field."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ExpectationError("--expect: not JSON (%s)" % e)
    if not isinstance(data, dict):
        raise ExpectationError("--expect: must be a JSON object")
    known = {f.name for f in fields(Expectation)}
    problems = ["--expect.%s: unknown field" % k for k in sorted(set(data) - known)]
    values: Dict[str, Any] = {}
    for name, kind in _TYPES.items():
        if name not in data or data[name] is None:
            continue
        value = data[name]
        ok = isinstance(value, bool) if kind is bool else (
            isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else
            isinstance(value, kind) and not isinstance(value, bool))
        if not ok:
            problems.append("--expect.%s: must be %s, not %r" % (name, kind.__name__, value))
        else:
            values[name] = float(value) if kind is float else value
    for required in ("instance_type", "cloud", "gpu_vendor", "gpu_count", "gpu_name_contains"):
        if required not in values and not any(p.startswith("--expect.%s:" % required) for p in problems):
            problems.append("--expect.%s: required" % required)
    if values.get("fabric", "none") not in FABRICS:
        problems.append("--expect.fabric: must be one of %s" % ", ".join(FABRICS))
    if problems:
        raise ExpectationError("; ".join(problems))
    return Expectation(**values)


def min_memory_mib(gpu_memory_gb: Optional[float]) -> Optional[int]:
    """The catalog's GPU memory read as decimal GB, in the MiB nvidia-smi reports: a GPU showing less
    has lost memory or is another part (an 80 GB H100 reports 81,559 MiB; 80 GB is 76,294 MiB)."""
    if not gpu_memory_gb:
        return None
    return int(math.floor(gpu_memory_gb * 1e9 / 2 ** 20))


def from_catalog(instance_type: str, cloud: Optional[str] = None) -> Expectation:
    """The expectation of a catalog instance type (needs the aifactory package and its catalog)."""
    try:
        from aifactory import catalog
    except ImportError:
        raise ExpectationError("--expect-type needs the aifactory catalog, which is not installed here; pass --expect JSON")
    clouds = [cloud] if cloud else list(catalog.CLOUDS)
    found = [t for t in (catalog.instance(c, instance_type) for c in clouds) if t is not None]
    if not found:
        raise ExpectationError("--expect-type: %r is not a GPU type in the catalog" % instance_type)
    itype = found[0]
    spec = catalog.gpu(itype.gpu_model)
    nvlink = (spec.nvlink_links or 0) if spec else 0
    per_interface = None
    if itype.fabric_gbps and itype.fabric_interfaces:
        per_interface = itype.fabric_gbps / itype.fabric_interfaces
    busbw = spec.nccl_allreduce_busbw_gbps if spec and itype.gpu_count == 8 else None
    return Expectation(
        instance_type=itype.name,
        cloud=itype.cloud,
        gpu_vendor=spec.vendor if spec else "nvidia",
        gpu_count=itype.gpu_count,
        gpu_name_contains=spec.smi_name_contains if spec else itype.gpu_model,
        gpu_memory_mib_min=min_memory_mib(itype.gpu_memory_gib),
        power_default_w=spec.power_default_w if spec else None,
        nvlink_links=nvlink if itype.gpu_count > 1 else 0,
        nvlink_gbps_per_link=spec.nvlink_gbps_per_link if spec else None,
        fabric_manager=fabric_manager_runs_on_node(itype.cloud, itype.gpu_model, itype.gpu_count, nvlink),
        fabric=itype.fabric,
        fabric_interfaces=itype.fabric_interfaces or 0,
        fabric_gbps_per_interface=per_interface,
        host_nics=itype.host_nics or 1,
        nccl_busbw_gbps_min=busbw,
    )


def fabric_manager_runs_on_node(cloud: str, gpu_model: str, gpu_count: int, nvlink_links: int) -> bool:
    """HGX boards (8 NVLink GPUs behind NVSwitches) need nvidia-fabricmanager in the guest on AWS and
    Azure, whose GPU images install it. Google Cloud trains the NVSwitch fabric below the guest (the
    guest sees only `nvidia-smi -q` Fabric State), and GB200 racks train NVLink outside the node."""
    return cloud in ("aws", "azure") and gpu_count == 8 and nvlink_links > 0 and gpu_model != "GB200"
