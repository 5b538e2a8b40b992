"""How a facility's CIDR is carved into subnets, shared by validation and the components.

Slot 0 is the compute subnet (every GPU node's primary interface), slot 1 the filesystem
subnet, and on Google Cloud the following slots are the GPU fabric subnets (one per GPU
VPC for GPUDirect-TCPX/TCPXO; the second host VPC and the RoCE subnets for RDMA types).
The CIDR is split into the smallest power of two of equal parts that holds every slot.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

# Addresses each cloud keeps for itself in every subnet.
RESERVED_PER_SUBNET = {"aws": 5, "azure": 5, "gcp": 4}


@dataclass(frozen=True)
class SubnetPlan:
    cidr: str
    compute: str
    storage: str
    fabric: tuple[str, ...]

    @property
    def usable_per_subnet(self) -> int:
        return ipaddress.ip_network(self.compute).num_addresses


def gcp_fabric_subnets(fabric: str, fabric_interfaces: int | None, host_nics: int | None) -> int:
    """Subnets a Google Cloud GPU type needs beyond the primary one."""
    extra_host = max((host_nics or 1) - 1, 0)
    if fabric in ("gpudirect-tcpx", "gpudirect-tcpxo", "rdma"):
        return extra_host + (fabric_interfaces or 0)
    return extra_host


def plan(cidr: str, fabric_subnets: int = 0) -> SubnetPlan:
    network = ipaddress.ip_network(cidr, strict=True)
    slots = 2 + fabric_subnets
    extra_bits = max(1, math.ceil(math.log2(slots)))
    if network.prefixlen + extra_bits > 28:
        raise ValueError(f"{cidr} is too small to hold {slots} subnets of at least /28")
    parts = [str(net) for net in network.subnets(prefixlen_diff=extra_bits)]
    return SubnetPlan(
        cidr=str(network),
        compute=parts[0],
        storage=parts[1],
        fabric=tuple(parts[2 : 2 + fabric_subnets]),
    )
