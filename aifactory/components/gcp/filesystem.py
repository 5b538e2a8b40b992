"""A parallel filesystem on Google Cloud: Managed Lustre, Parallelstore or Filestore.

Every kind is reached over private services access on the cluster's primary VPC (the
`ClusterNetwork` reserves the storage range and peers it), is created with a literal capacity
(and throughput tier for Lustre), and is protected from deletion: `protect=True` on the
resource, plus the provider-side `deletion_policy="PREVENT"` (Lustre, Parallelstore) or the
API's `deletion_protection_enabled` (Filestore).
"""

import re
import shlex
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_gcp as gcp

from aifactory import catalog, rules
from aifactory.components.args import legacy_alias, read_args
from aifactory.components.common import mount_path
from aifactory.components.gcp.labels import label_safe, region_of

TYPE = "aifactory-gcp:index:ParallelFilesystem"
LEGACY_TYPE = "aifactory:gcp:ParallelFilesystem"

KINDS = ("lustre", "parallelstore", "filestore")
# Filestore tiers that are regional resources (located in a region, not a zone).
REGIONAL_FILESTORE_TIERS = ("REGIONAL", "ENTERPRISE")
# Managed Lustre's dynamic tier has no per-unit throughput (catalog row `dynamic`, 25 MB/s/TiB).
LUSTRE_DYNAMIC_MBPS = 25


class FilesystemMount(TypedDict):
    """What a node needs to mount a filesystem: its kind, where, and what the mount reads (Lustre's
    `IP@tcp:/fs`, Filestore's `IP:/share`, Parallelstore's access points)."""

    kind: str
    mount_path: str
    mount_source: pulumi.Input[str]


class ParallelFilesystemArgs(TypedDict):
    kind: str
    """lustre | parallelstore | filestore"""
    capacity_gib: int
    """In the API's GiB, on the kind's steps (see aifactory.rules.filesystem_gib)."""
    zone: str
    network_id: pulumi.Input[str]
    """The primary VPC (the ClusterNetwork's networkId)."""
    psa_connection_id: pulumi.Input[str]
    """The private services access connection the filesystem is reached over (the ClusterNetwork's psaConnectionId)."""
    network_name: NotRequired[Optional[pulumi.Input[str]]]
    """The primary VPC's name (Filestore; the ClusterNetwork's networkName)."""
    reserved_ip_range: NotRequired[Optional[pulumi.Input[str]]]
    """The reserved range's name (Parallelstore, Filestore; the ClusterNetwork's psaRangeName)."""
    client_cidr: NotRequired[Optional[str]]
    """The NFS clients' range (Filestore; the ClusterNetwork's computeCidr)."""
    throughput_mbps_per_tib: NotRequired[Optional[int]]
    """Lustre tier: 125, 250, 500, 1000 (25 = dynamic)."""
    data_repository: NotRequired[Optional[str]]
    """A gs:// URL, recorded on the instance (see description)."""
    tags: NotRequired[dict[str, str]]
    tier: NotRequired[Optional[str]]
    """Filestore service tier (default ZONAL)."""
    mount_path: NotRequired[Optional[str]]
    """Where nodes mount it; default /mnt/<short name>."""
    filesystem_name: NotRequired[Optional[str]]
    """Lustre fs name / Filestore share (default from the name)."""


DEFAULTS = {"tags": {}}


def network_links(network: Any) -> dict[str, Any]:
    """The keys a ClusterNetwork passed as `network` stands for (a Python convenience)."""
    return {
        "network_id": network.network_id,
        "network_name": network.network_name,
        "psa_connection_id": network.psa_connection_id,
        "reserved_ip_range": network.psa_range_name,
        "client_cidr": network.compute_cidr,
    }


class ParallelFilesystem(pulumi.ComponentResource):
    """One filesystem instance; `dns_name`, `mount_name` and `mount_command` tell nodes how to mount it
    (`mount_source` is what the mount reads: Lustre's `IP@tcp:/fs`, Filestore's `IP:/share`,
    Parallelstore's access points)."""

    dns_name: pulumi.Output[str]
    mount_name: pulumi.Output[str]
    mount_source: pulumi.Output[str]
    mount_command: pulumi.Output[str]

    def __init__(self, name: str, args: ParallelFilesystemArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = read_args(ParallelFilesystemArgs, args, DEFAULTS, {"network": network_links})
        if args.mount_path is not None:
            mount_path(args.mount_path)
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))
        if args.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {args.kind!r}")
        if not isinstance(args.capacity_gib, int) or args.capacity_gib <= 0:
            raise ValueError("capacity_gib must be a positive int (a literal the policies can read)")
        self.kind = args.kind
        self.capacity_gib = args.capacity_gib
        self.zone = args.zone
        self.region = region_of(args.zone)
        self.labels = label_safe(args.tags)
        # The last part of the name ("scratch" of "llm-prod-scratch"), letters and digits only.
        short = re.sub(r"[^a-z0-9]", "", name.lower().rsplit("-", 1)[-1])
        short = short if short[:1].isalpha() else f"fs{short}"
        self.mount_path = mount_path(args.mount_path or f"/mnt/{short}")
        if args.psa_connection_id is None:
            raise ValueError(
                f"{args.kind} is reached over private services access: "
                "build the ClusterNetwork with private_service_access=True"
            )
        args.require()
        # Created after the peering exists: a dependency on whatever resource the connection ID comes from.
        after_peering = pulumi.Output.from_input(args.psa_connection_id).apply(lambda _: None)
        protected = pulumi.ResourceOptions(parent=self, protect=True, depends_on=[after_peering])
        description = f"{args.kind} of {name}"
        if args.data_repository:
            description += f"; data repository {args.data_repository}"

        if args.kind == "lustre":
            self.resource = self._lustre(name, args, short, description, protected)
        elif args.kind == "parallelstore":
            self.resource = self._parallelstore(name, args, description, protected)
        else:
            self.resource = self._filestore(name, args, short, description, protected)

        self.register_outputs(
            {"dns_name": self.dns_name, "mount_name": self.mount_name, "mount_command": self.mount_command}
        )

    def mount(self) -> FilesystemMount:
        """The mount a GpuFleet needs for this filesystem."""
        return FilesystemMount(kind=self.kind, mount_path=self.mount_path, mount_source=self.mount_source)

    # ---------------------------------------------------------------- Managed Lustre

    def _lustre(self, name, args, short, description, opts) -> gcp.lustre.Instance:
        fs_name = args.filesystem_name or short[:8]  # at most 8 letters and digits
        throughput = args.throughput_mbps_per_tib
        tier: dict = {}
        if throughput == LUSTRE_DYNAMIC_MBPS:
            tier["dynamic_tier_options"] = {"mode": "DEFAULT_CACHE"}
        elif throughput is not None:
            tier["per_unit_storage_throughput"] = str(throughput)
        else:
            raise ValueError("Managed Lustre needs throughput_mbps_per_tib (125, 250, 500, 1000, or 25 = dynamic)")
        instance = gcp.lustre.Instance(
            f"{name}-lustre",
            instance_id=name,
            location=args.zone,
            filesystem=fs_name,
            capacity_gib=str(args.capacity_gib),
            network=args.network_id,
            description=description,
            labels=self.labels,
            deletion_policy="PREVENT",
            **tier,
            opts=opts,
        )
        # mount_point is "IP@tcp:/FILESYSTEM".
        self.dns_name = instance.mount_point.apply(lambda mp: (mp or "").split("@")[0])
        self.mount_name = instance.filesystem
        self.mount_source = instance.mount_point.apply(lambda mp: mp or "")
        self.mount_command = self.mount_source.apply(
            lambda mp: f"mkdir -p {shlex.quote(self.mount_path)} && "
            + shlex.join(["mount", "-t", "lustre", "-o", "defaults,_netdev", mp, self.mount_path])
        )
        return instance

    # ---------------------------------------------------------------- Parallelstore

    def _parallelstore(self, name, args, description, opts) -> gcp.parallelstore.Instance:
        instance = gcp.parallelstore.Instance(
            f"{name}-parallelstore",
            instance_id=name,
            location=args.zone,
            capacity_gib=str(args.capacity_gib),
            network=args.network_id,
            reserved_ip_range=args.reserved_ip_range,
            description=description,
            labels=self.labels,
            deletion_policy="PREVENT",
            opts=opts,
        )
        self.dns_name = instance.access_points.apply(lambda points: ",".join(points or []))
        self.mount_name = pulumi.Output.from_input("default-pool/default-container")
        self.mount_source = instance.access_points.apply(lambda points: ", ".join(points or []))
        self.mount_command = self.mount_source.apply(
            lambda points: (
                f"printf 'access_points: [%s]\\ntransport_config:\\n  allow_insecure: true\\n' {shlex.quote(points)}"
                " > /etc/daos/daos_agent.yml && mkdir -p /var/run/daos_agent"
                " && (daos_agent -o /etc/daos/daos_agent.yml >/dev/null 2>&1 &)"
                f" && mkdir -p {shlex.quote(self.mount_path)} && "
                + shlex.join(
                    ["dfuse", "--pool", "default-pool", "--container", "default-container", "--multi-user", self.mount_path]
                )
            )
        )
        return instance

    # ---------------------------------------------------------------- Filestore

    def _filestore(self, name, args, short, description, opts) -> gcp.filestore.Instance:
        tier = (args.tier or "ZONAL").upper()
        location = self.region if tier in REGIONAL_FILESTORE_TIERS else args.zone
        share = (args.filesystem_name or short)[:16]
        instance = gcp.filestore.Instance(
            f"{name}-filestore",
            name=name,
            location=location,
            tier=tier,
            file_shares={
                "name": share,
                "capacity_gb": args.capacity_gib,
                # NFS clients: the compute subnet only.
                "nfs_export_options": [
                    {
                        "ip_ranges": [args.client_cidr],
                        "access_mode": "READ_WRITE",
                        "squash_mode": "NO_ROOT_SQUASH",
                    }
                ],
            },
            networks=[
                {
                    "network": args.network_name,
                    "modes": ["MODE_IPV4"],
                    "connect_mode": "PRIVATE_SERVICE_ACCESS",
                    "reserved_ip_range": args.reserved_ip_range,
                }
            ],
            description=description,
            labels=self.labels,
            deletion_protection_enabled=True,
            deletion_protection_reason="aifactory: filesystems outlive mistakes",
            opts=opts,
        )
        self.dns_name = instance.networks.apply(lambda nets: (nets[0].ip_addresses or [""])[0] if nets else "")
        self.mount_name = pulumi.Output.from_input(share)
        self.mount_source = self.dns_name.apply(lambda ip: f"{ip}:/{share}")
        self.mount_command = self.mount_source.apply(
            lambda source: f"mkdir -p {shlex.quote(self.mount_path)} && "
            + shlex.join(["mount", "-t", "nfs", "-o", "vers=3,hard,_netdev", source, self.mount_path])
        )
        return instance


def capacity_gib(
    kind: str, capacity_tib: float, throughput_mbps_per_tib: Optional[int] = None, tier: Optional[str] = None
) -> int:
    """The API capacity (GiB) of `capacity_tib` for a kind, by the catalog's TiB-to-GiB rule."""
    sku = None
    if kind == "filestore" and tier:
        sku = next((s for s in catalog.storage_skus("gcp", "filestore") if s.sku == tier.upper()), None)
    sku = sku or catalog.storage_sku("gcp", kind, throughput_mbps_per_tib)
    if sku is None:
        raise ValueError(f"the catalog has no gcp {kind} SKU for {throughput_mbps_per_tib} MB/s per TiB")
    return rules.filesystem_gib(capacity_tib, sku)
