"""What a set of resources holds: GPU node groups, parallel filesystems, budgets.

The estimator and the policy pack read the same `Inventory`, so the report and the pack
always agree. `from_spec` builds one from a facility spec (before any program runs);
`from_resources` builds one from the resources a Pulumi program registers -- any program,
not only ours: it reads resource types and inputs (camelCase, as the engine sends them),
follows group -> template links through dependencies, and takes the region from the
resource or else its provider.

A value that is unknown during a preview (the engine's unknown sentinel, the recorder's
``"<unknown>"``, or an input missing although an Output feeds it) becomes None in the
inventory *and* is listed in `Inventory.unknowns`, so a gate can say what it cannot prove
instead of silently passing.

Each cloud's knowledge lives in its own module (`aws`, `azure`, `gcp`: the resource types read,
how each holds GPU nodes, filesystems and budgets); `reader` is what they read through, `budgets`
what budgets cover, `build` puts an inventory together. Every public name is importable from here.
"""

from aifactory.inventory import aws, azure, gcp
from aifactory.inventory.build import from_resources
from aifactory.inventory.model import Budget, Filesystem, GpuGroup, Inventory, Unknown, from_spec
from aifactory.inventory.reader import (
    BUDGET_TYPES,
    FILESYSTEM_TYPES,
    GROUP_TYPES,
    NODE_TYPES,
    READ_TYPES,
    SINGLE_NODE_TYPES,
    TEMPLATE_TYPES,
    Placement,
    effective_tags,
    is_gpu_type,
    normalize_region,
    placement,
    region_of_zone,
)
from aifactory.inventory.resources import ROOT_STACK_TYPE, Resource, as_resource, cloud_of, resource_tags
from aifactory.inventory.values import (
    MISSING,
    RECORDED_UNKNOWN,
    UNKNOWN,
    UNKNOWN_SENTINELS,
    as_bool,
    as_float,
    as_int,
    as_mapping,
    is_unknown,
    lookup,
    plain,
)

machine_type_name = gcp.machine_type_name
INSTANCE_TYPE_TAG, CAPACITY_TAG, ZONE_TAG = aws.INSTANCE_TYPE_TAG, aws.CAPACITY_TAG, aws.ZONE_TAG

AWS_ASG = aws.ASG
AWS_LAUNCH_TEMPLATE = aws.LAUNCH_TEMPLATE
AWS_INSTANCE = aws.INSTANCE
AWS_EKS_NODE_GROUP = aws.EKS_NODE_GROUP
AWS_FSX_LUSTRE = aws.FSX_LUSTRE
AWS_BUDGET = aws.BUDGET
AZURE_VMSS = azure.VMSS
AZURE_VM = azure.VM
AZURE_AKS_POOL = azure.AKS_POOL
AZURE_AML = azure.AML
AZURE_BUDGET = azure.BUDGET
AZURE_RESOURCE_GROUP = azure.RESOURCE_GROUP
GCP_MIG = gcp.MIG
GCP_REGION_MIG = gcp.REGION_MIG
GCP_TEMPLATE = gcp.TEMPLATE
GCP_REGION_TEMPLATE = gcp.REGION_TEMPLATE
GCP_INSTANCE = gcp.INSTANCE
GCP_NODE_POOL = gcp.NODE_POOL
GCP_LUSTRE = gcp.LUSTRE
GCP_PARALLELSTORE = gcp.PARALLELSTORE
GCP_FILESTORE = gcp.FILESTORE
GCP_BUDGET = gcp.BUDGET
