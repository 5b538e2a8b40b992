"""ParallelFilesystem on Azure: Azure Managed Lustre (`storagecache.AmlFilesystem`).

The SKU comes from the throughput tier (`AMLFS-Durable-Premium-40/125/250/500`, from
`aifactory.catalog.storage_sku`), the size is `storageCapacityTiB` on that SKU's steps, both
literal. The filesystem lives in the network's filesystem subnet, has a weekly 30-minute
maintenance window, and is protected from deletion. Data at rest is encrypted with
Microsoft-managed keys, which Azure Managed Lustre always does when no customer key is given
(`encryptionSettings` is only for customer-managed keys).

Blob integration (HSM): the API takes the *resource IDs* of a data container and a logging
container in the same storage account. `data_repository` may be that resource ID, or an
`https://<account>.blob.core.windows.net/<container>[/<prefix>]` URL, which is turned into the
resource ID with `data_repository_account_id` (the storage account's resource ID) or, failing
that, the account assumed to live in `data_repository_resource_group` of the current subscription.
"""

import re
import shlex
from typing import Any, NotRequired, Optional, TypedDict
from urllib.parse import urlparse

import pulumi
import pulumi_azure_native as azure_native

from aifactory import catalog
from aifactory.components.args import ComponentArgs, legacy_alias, read_args
from aifactory.components.common import mount_path

TYPE = "aifactory-azure:index:ParallelFilesystem"
LEGACY_TYPE = "aifactory:azure:ParallelFilesystem"

LUSTRE_FSNAME = "lustrefs"  # the fixed internal Lustre name of every Azure Managed Lustre filesystem
MOUNT_OPTIONS = "noatime,flock"
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_BLOB_HOST = re.compile(r"^([a-z0-9]{3,24})\.blob\.core\.windows\.net$")


class LustreMount(TypedDict):
    """What a node needs to mount an Azure Managed Lustre filesystem."""

    name: str
    mount_path: str
    mgs_address: pulumi.Input[str]


class ParallelFilesystemArgs(TypedDict):
    kind: str
    """lustre (the only kind Azure offers here)."""
    capacity_gib: int
    """In the catalog's GiB (1 TiB = 1024 GiB); must sit on the SKU's steps."""
    throughput_mbps_per_tib: int
    """40 | 125 | 250 | 500, picks the AMLFS-Durable-Premium-<n> SKU."""
    resource_group_name: pulumi.Input[str]
    region: str
    subnet_id: pulumi.Input[str]
    """The filesystem subnet (the ClusterNetwork's storageSubnetId)."""
    data_repository: NotRequired[Optional[str]]
    """https://<account>.blob.core.windows.net/<container>[/prefix] or a container resource ID."""
    zone: NotRequired[Optional[str]]
    """1 | 2 | 3; one zone, the GPU nodes' zone for full performance."""
    tags: NotRequired[dict[str, str]]
    maintenance_day: NotRequired[str]
    maintenance_time_utc: NotRequired[str]
    data_repository_account_id: NotRequired[Optional[str]]
    """/subscriptions/.../storageAccounts/<account>"""
    data_repository_resource_group: NotRequired[Optional[pulumi.Input[str]]]
    """Else the filesystem's resource group."""
    logging_container: NotRequired[Optional[str]]
    """Else <container>-logs in the same account (must exist)."""
    mount_path: NotRequired[Optional[str]]
    """Where nodes mount it; else /mnt/<name>."""


DEFAULTS = {"tags": {}, "maintenance_day": "Sunday", "maintenance_time_utc": "02:00"}


def network_links(network: Any) -> dict[str, Any]:
    """The keys a ClusterNetwork passed as `network` stands for (a Python convenience)."""
    return {
        "resource_group_name": network.resource_group_name,
        "region": network.region,
        "subnet_id": network.storage_subnet_id,
    }


class ParallelFilesystem(pulumi.ComponentResource):
    """An Azure Managed Lustre filesystem in the network's filesystem subnet."""

    dns_name: pulumi.Output[str]  # the MGS IP address (AMLFS has no DNS name)
    mount_name: pulumi.Output[str]  # always "lustrefs"
    mgs_address: pulumi.Output[str]
    mount_command: pulumi.Output[str]

    def __init__(self, name: str, args: ParallelFilesystemArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = read_args(ParallelFilesystemArgs, args, DEFAULTS, {"network": network_links})
        if args.kind != "lustre":
            raise ValueError(f"Azure offers Managed Lustre only, not {args.kind!r}")
        sku = catalog.storage_sku("azure", "lustre", args.throughput_mbps_per_tib)
        if sku is None:
            tiers = sorted(s.throughput_mbps_per_tib for s in catalog.storage_skus("azure", "lustre"))
            raise ValueError(f"Azure Managed Lustre offers {tiers} MB/s per TiB, not {args.throughput_mbps_per_tib}")
        if not sku.allows(args.capacity_gib):
            raise ValueError(
                f"{args.capacity_gib} GiB is not a size {sku.sku} offers: "
                f"{sku.min_gib} GiB or a multiple of {sku.step_gib} GiB"
            )
        if args.maintenance_day not in DAYS or not _TIME.match(args.maintenance_time_utc):
            raise ValueError("maintenance window: a weekday name (e.g. 'Sunday') and a UTC time 'HH:MM'")
        path = mount_path(args.mount_path or f"/mnt/{name}")
        args.require()
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))

        self.sku = sku.sku
        capacity_tib = args.capacity_gib / sku.gib_per_tib
        self.capacity_tib = int(capacity_tib) if capacity_tib == int(capacity_tib) else capacity_tib
        self.mount_path = path
        hsm = _hsm_settings(args, self) if args.data_repository else None

        self.filesystem = azure_native.storagecache.AmlFilesystem(
            name,
            aml_filesystem_name=name,
            resource_group_name=args.resource_group_name,
            location=args.region,
            sku={"name": sku.sku},
            storage_capacity_ti_b=self.capacity_tib,
            filesystem_subnet=args.subnet_id,
            zones=[args.zone] if args.zone else None,
            maintenance_window={"day_of_week": args.maintenance_day, "time_of_day_utc": args.maintenance_time_utc},
            hsm=hsm,
            tags=dict(args.tags),
            # Storage outlives mistakes: deleting it takes an explicit unprotect first.
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )

        self.mgs_address = self.filesystem.client_info.apply(_mgs_address)
        self.dns_name = self.mgs_address
        self.mount_name = pulumi.Output.from_input(LUSTRE_FSNAME)
        self.mount_command = self.mgs_address.apply(lambda mgs: mount_command(mgs, self.mount_path))
        self.register_outputs(
            {
                "dns_name": self.dns_name,
                "mount_name": self.mount_name,
                "mount_command": self.mount_command,
                "sku": self.sku,
                "capacity_tib": self.capacity_tib,
            }
        )

    def mount(self) -> LustreMount:
        """The mount a GpuFleet needs for this filesystem."""
        return LustreMount(name=self._name, mount_path=self.mount_path, mgs_address=self.mgs_address)


def mount_command(mgs_address: str | None, mount_path: str) -> str:
    """The mount the Azure docs give: `mount -t lustre -o noatime,flock <MGS>@tcp:/lustrefs <path>`."""
    source = f"{mgs_address or '<mgs-address>'}@tcp:/{LUSTRE_FSNAME}"
    return shlex.join(["mount", "-t", "lustre", "-o", MOUNT_OPTIONS, source, mount_path])


def _mgs_address(client_info) -> str | None:
    if client_info is None:
        return None
    if isinstance(client_info, dict):
        return client_info.get("mgs_address") or client_info.get("mgsAddress")
    return getattr(client_info, "mgs_address", None)


def _hsm_settings(args: ComponentArgs, parent: pulumi.Resource) -> dict:
    repository = args.data_repository or ""
    if repository.startswith("/subscriptions/"):
        container_id = repository.rstrip("/")
        account_id, _, container = container_id.rpartition("/blobServices/default/containers/")
        if not account_id:
            raise ValueError(f"{repository!r} is not a blob container resource ID")
        prefix = None
    else:
        account, container, prefix = _parse_blob_url(repository)
        if args.data_repository_account_id:
            account_id = args.data_repository_account_id.rstrip("/")
        else:
            subscription = azure_native.authorization.get_client_config_output(
                opts=pulumi.InvokeOutputOptions(parent=parent)
            ).subscription_id
            group = args.data_repository_resource_group or args.resource_group_name
            account_id = pulumi.Output.concat(
                "/subscriptions/", subscription, "/resourceGroups/", group,
                "/providers/Microsoft.Storage/storageAccounts/", account,
            )
    logging = args.logging_container or f"{container}-logs"
    settings = {
        "container": pulumi.Output.concat(account_id, "/blobServices/default/containers/", container),
        "logging_container": pulumi.Output.concat(account_id, "/blobServices/default/containers/", logging),
    }
    if prefix:
        settings["import_prefix"] = f"/{prefix}"
    return {"settings": settings}


def _parse_blob_url(url: str) -> tuple[str, str, str]:
    parsed = urlparse(url)
    host = _BLOB_HOST.match(parsed.netloc or "")
    parts = [p for p in parsed.path.split("/") if p]
    if parsed.scheme != "https" or not host or not parts:
        raise ValueError(
            f"{url!r} is not a blob container URL (https://<account>.blob.core.windows.net/<container>[/prefix])"
        )
    return host.group(1), parts[0], "/".join(parts[1:])
