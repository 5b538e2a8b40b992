"""GpuFleet on Azure: Uniform scale sets in one proximity placement group.

InfiniBand is wired only among the VMs of one placement group, so every set is a single placement
group (`singlePlacementGroup: true`, at most 100 VMs; larger fleets split into as few sets as that
allows with `components.common.split_nodes`). SKU name and capacity are literal
(`sku = {name, tier: Standard, capacity}`); VMs are SSH-key only, have no public IP and get
accelerated networking; the bootstrap is rendered from `templates/azure-node-bootstrap.sh.j2`.

Capacity: on-demand is `priority: Regular`; spot is `priority: Spot`, `evictionPolicy: Delete`,
`billingProfile.maxPrice: -1` (pay up to on-demand, never evicted for price); reservation is an
on-demand capacity reservation group (`capacityReservation.capacityReservationGroup.id`). Azure
does not allow a capacity reservation together with a proximity placement group or a single
placement group, so reserved sets are built without both (and IB across them is not guaranteed).
"""

import base64
from collections.abc import Sequence
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_azure_native as azure_native

from aifactory import catalog
from aifactory.components import nodehealth
from aifactory.components.args import ComponentArgs, legacy_alias, read_args
from aifactory.components.common import render, split_nodes

from .filesystem import LUSTRE_FSNAME, MOUNT_OPTIONS, LustreMount

TYPE = "aifactory-azure:index:GpuFleet"
LEGACY_TYPE = "aifactory:azure:GpuFleet"

# A scale set with singlePlacementGroup=true holds at most 100 VMs (Azure docs, "Virtual Machine
# Scale Sets and placement groups"; VirtualMachineScaleSetProperties.SinglePlacementGroup).
MAX_VMS_PER_SET = 100

# The Ubuntu-HPC marketplace image (Gen2; drivers, MOFED, NCCL, HPC-X, Lustre client):
# microsoft-dsvm:ubuntu-hpc:2204 (github.com/Azure/azhpc-images README). MI300X takes the ROCm
# flavour microsoft-dsvm:ubuntu-hpc:2204-rocm (Microsoft Learn, "Install AMD GPU drivers on Azure
# ND MI300X v5 Linux VMs").
HPC_IMAGE = {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc", "sku": "2204", "version": "latest"}
IMAGE_BY_TYPE = {
    "standard_nd96isr_mi300x_v5": {**HPC_IMAGE, "sku": "2204-rocm"},
    # The ND GB200 v6 and ND GB300 v6 sizes are arm64 (Grace). No arm64 Ubuntu-HPC SKU could be
    # confirmed (the azhpc-images README lists x64 SKUs only): their fleets must pass an image.
}

# NCCL topology files the Ubuntu-HPC image places under /opt/microsoft (azhpc-images topology/).
TOPOLOGY_BY_TYPE = {
    "standard_nd96isr_h100_v5": "/opt/microsoft/ndv5-topo.xml",
    "standard_nd96isr_h200_v5": "/opt/microsoft/ndv5-topo.xml",
    "standard_nd96asr_v4": "/opt/microsoft/ndv4-topo.xml",
    "standard_nd96amsr_a100_v4": "/opt/microsoft/ndv4-topo.xml",
}

CAPACITIES = ("on-demand", "spot", "reservation")

# The Application Health extension (binary and rich health states, docs "Using Application Health
# extension with Virtual Machine Scale Sets") probing the node's own health endpoint, which answers
# 200 only while the node's last check passed (`aifactory.nodecheck serve`).
APPLICATION_HEALTH = {
    "name": "ApplicationHealth",
    "publisher": "Microsoft.ManagedServices",
    "type": "ApplicationHealthLinux",
    "type_handler_version": "2.0",
    "auto_upgrade_minor_version": True,
    "settings": {"protocol": "http", "port": nodehealth.HEALTH_PORT, "requestPath": nodehealth.HEALTH_PATH,
                 "intervalInSeconds": 60, "numberOfProbes": 3},
}
REPAIR_GRACE = "PT%dM" % (nodehealth.BOOT_CHECK_SECONDS // 60)


class GpuFleetArgs(TypedDict):
    instance_type: str
    """VM size, e.g. Standard_ND96isr_H100_v5 (literal sku.name)."""
    nodes: int
    """VMs in the fleet (literal sku.capacity of each set)."""
    resource_group_name: pulumi.Input[str]
    region: str
    subnet_id: pulumi.Input[str]
    """The compute subnet (the ClusterNetwork's computeSubnetId)."""
    admin_username: str
    ssh_public_keys: list[str]
    capacity: NotRequired[str]
    """on-demand (default) | spot | reservation"""
    reservation_id: NotRequired[Optional[str]]
    """Capacity reservation group resource ID, for reservation."""
    zone: NotRequired[Optional[str]]
    """1 | 2 | 3"""
    filesystems: NotRequired[list[LustreMount]]
    """Managed Lustre filesystems every node mounts."""
    tags: NotRequired[dict[str, str]]
    image: NotRequired[Optional[dict[str, str]]]
    """{publisher, offer, sku, version}; else the Ubuntu-HPC image."""
    os_disk_gb: NotRequired[int]
    max_per_set: NotRequired[int]
    group_prefix: NotRequired[Optional[str]]
    """Set names are <prefix>[-NNN]; else the component name."""
    encryption_at_host: NotRequired[bool]
    """Needs the EncryptionAtHost feature on the subscription."""
    node_check: NotRequired[bool]
    """Default true: the node checks itself at boot and every `check_interval_minutes`; the Application
    Health extension probes its endpoint and automatic repairs replace a node that stays unhealthy."""
    check_interval_minutes: NotRequired[int]


DEFAULTS = {
    "capacity": "on-demand",
    "filesystems": [],
    "tags": {},
    "os_disk_gb": 256,
    "max_per_set": MAX_VMS_PER_SET,
    "encryption_at_host": False,
    "node_check": True,
    "check_interval_minutes": nodehealth.CHECK_INTERVAL_MINUTES,
}


def network_links(network: Any) -> dict[str, Any]:
    """The keys a ClusterNetwork passed as `network` stands for (a Python convenience)."""
    return {
        "resource_group_name": network.resource_group_name,
        "region": network.region,
        "subnet_id": network.compute_subnet_id,
    }


class GpuFleet(pulumi.ComponentResource):
    """A fleet of GPU VMs: one Uniform scale set per placement group, all in one proximity placement group."""

    group_names: list[str]
    group_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: GpuFleetArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = read_args(GpuFleetArgs, args, DEFAULTS, {"network": network_links})
        if args.capacity not in CAPACITIES:
            raise ValueError(f"capacity on Azure is one of {CAPACITIES}, not {args.capacity!r}")
        if args.capacity == "reservation" and not args.reservation_id:
            raise ValueError("capacity 'reservation' needs reservation_id (the capacity reservation group ID)")
        if not args.ssh_public_keys:
            raise ValueError("at least one SSH public key: Azure GPU nodes allow SSH keys only")
        if args.max_per_set > MAX_VMS_PER_SET:
            raise ValueError(f"a single-placement-group scale set holds at most {MAX_VMS_PER_SET} VMs")
        itype = catalog.instance("azure", args.instance_type)
        if itype is not None and itype.arm64 and not args.image:
            raise ValueError(f"{itype.name} is arm64 (NVIDIA Grace) and no arm64 Ubuntu-HPC image is known: pass image")
        args.require()
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))

        key = args.instance_type.lower()
        reserved = args.capacity == "reservation"
        tags = dict(args.tags)
        prefix = args.group_prefix or name
        sizes = split_nodes(args.nodes, args.max_per_set)
        self.group_names = [_group(prefix, i, len(sizes)) for i in range(len(sizes))]
        self.image = dict(args.image or IMAGE_BY_TYPE.get(key, HPC_IMAGE))

        self.placement_group = None
        if not reserved:
            self.placement_group = azure_native.compute.ProximityPlacementGroup(
                f"{name}-ppg",
                proximity_placement_group_name=f"{name}-ppg",
                resource_group_name=args.resource_group_name,
                location=args.region,
                proximity_placement_group_type="Standard",
                zones=[args.zone] if args.zone else None,
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )

        custom_data = _custom_data(
            fleet=name,
            instance_type=args.instance_type,
            fabric=itype.fabric if itype else "none",
            ib_ports=(itype.fabric_interfaces or 0) if itype else 0,
            topology_file=TOPOLOGY_BY_TYPE.get(key),
            filesystems=[fs.mount() if hasattr(fs, "mount") else fs for fs in args.filesystems],
            node_check=args.node_check,
            **(nodehealth.context("azure", args.instance_type, args.check_interval_minutes) if args.node_check else {}),
        )
        profile = _vm_profile(args, self.image, custom_data)
        if args.node_check:
            profile["extension_profile"] = {"extensions": [APPLICATION_HEALTH]}

        self.scale_sets: list[azure_native.compute.VirtualMachineScaleSet] = []
        for set_name, size in zip(self.group_names, sizes, strict=True):
            self.scale_sets.append(
                azure_native.compute.VirtualMachineScaleSet(
                    set_name,
                    vm_scale_set_name=set_name,
                    resource_group_name=args.resource_group_name,
                    location=args.region,
                    sku={"name": args.instance_type, "tier": "Standard", "capacity": size},
                    orchestration_mode="Uniform",
                    # InfiniBand spans one placement group only; a capacity reservation forbids it.
                    single_placement_group=not reserved,
                    platform_fault_domain_count=1,
                    overprovision=False,
                    upgrade_policy={"mode": "Manual"},
                    # Azure allows 10 to 90 minutes; the boot check must finish within it.
                    automatic_repairs_policy={"enabled": True, "grace_period": REPAIR_GRACE, "repair_action": "Replace"}
                    if args.node_check else None,
                    proximity_placement_group={"id": self.placement_group.id} if self.placement_group else None,
                    zones=[args.zone] if args.zone else None,
                    virtual_machine_profile={
                        **profile,
                        "os_profile": {**profile["os_profile"], "computer_name_prefix": set_name},
                    },
                    tags=tags,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )

        self.group_ids = pulumi.Output.all(*[s.id for s in self.scale_sets])
        self.register_outputs(
            {
                "group_names": self.group_names,
                "group_ids": self.group_ids,
                "placement_group_id": self.placement_group.id if self.placement_group else None,
            }
        )


def _group(prefix: str, index: int, groups: int) -> str:
    """`<prefix>` for one set, `<prefix>-NNN` when split: `components.common.group_name`'s rule; the
    Facility names a fleet `<facility>-<fleet>`, so its sets are exactly `group_name(facility, fleet, ...)`."""
    return prefix if groups == 1 else f"{prefix}-{index:03d}"


def _vm_profile(args: ComponentArgs, image: dict, custom_data: pulumi.Input[str]) -> dict:
    user = args.admin_username
    profile: dict = {
        "priority": "Spot" if args.capacity == "spot" else "Regular",
        "os_profile": {
            "admin_username": user,
            "custom_data": custom_data,
            "linux_configuration": {
                "disable_password_authentication": True,
                "provision_vm_agent": True,
                "ssh": {
                    "public_keys": [
                        {"path": f"/home/{user}/.ssh/authorized_keys", "key_data": key.strip()}
                        for key in args.ssh_public_keys
                    ]
                },
            },
        },
        "storage_profile": {
            "image_reference": image,
            "os_disk": {
                "create_option": "FromImage",
                "caching": "ReadWrite",
                "disk_size_gb": args.os_disk_gb,
                # Managed disks are encrypted at rest with platform-managed keys by default.
                "managed_disk": {"storage_account_type": "Premium_LRS"},
            },
        },
        "network_profile": {
            "network_interface_configurations": [
                {
                    "name": "primary",
                    "primary": True,
                    "enable_accelerated_networking": True,
                    "enable_ip_forwarding": False,
                    # No public_ip_address_configuration: GPU nodes are private.
                    "ip_configurations": [
                        {"name": "primary", "primary": True, "subnet": {"id": args.subnet_id}}
                    ],
                }
            ]
        },
        "diagnostics_profile": {"boot_diagnostics": {"enabled": True}},
    }
    if args.capacity == "spot":
        profile["eviction_policy"] = "Delete"
        profile["billing_profile"] = {"max_price": -1}
    if args.capacity == "reservation":
        profile["capacity_reservation"] = {"capacity_reservation_group": {"id": args.reservation_id}}
    if args.encryption_at_host:
        profile["security_profile"] = {"encryption_at_host": True}
    return profile


def _custom_data(*, filesystems: Sequence[LustreMount], **context) -> pulumi.Output[str]:
    """Base64 custom data from the jinja2 template; the Lustre MGS addresses are only known after deploy."""

    def encode(addresses: list[Optional[str]]) -> str:
        mounts = [
            {"name": fs["name"], "path": fs["mount_path"], "mgs": mgs or "", "fsname": LUSTRE_FSNAME,
             "options": MOUNT_OPTIONS}
            for fs, mgs in zip(filesystems, addresses, strict=True)
        ]
        extra_env = {"NCCL_IB_HCA": "mlx5"} if context["fabric"] == "infiniband" else {}
        script = render(
            "azure-node-bootstrap.sh.j2", filesystems=mounts, extra_env=extra_env, **context
        )
        return base64.b64encode(script.encode()).decode()

    return pulumi.Output.all(*[fs["mgs_address"] for fs in filesystems]).apply(encode)
