// Team vision's facility built from the aifactory-aws component provider in TypeScript.
// `pulumi package add` (README, "Every Pulumi language") generates the SDK imported below.
import * as pulumi from "@pulumi/pulumi";
import * as aifactory from "@pulumi/aifactory-aws";

// The same fields as the `aifactory:facility` stack config, checked by the same rules: a bad
// value is refused by its config path (aifactory:facility.fleets[0].nodes: must be at least 1)
// before anything is registered.
const factory = new aifactory.Facility("vision-prod", {
    name: "vision-prod",
    team: "vision",
    region: "us-east-1",
    tags: { "cost-center": "cc-4711" },
    fleets: [
        { name: "trainers", instanceType: "p5.48xlarge", nodes: 16, capacity: "capacity-block",
          reservationId: "cr-0123456789abcdef0" },
        { name: "eval", instanceType: "p5.48xlarge", nodes: 2 },
    ],
    network: { cidr: "10.40.0.0/16" },
    filesystems: [
        { name: "scratch", kind: "lustre", capacityTib: 48, throughputMbpsPerTib: 250,
          dataRepository: "s3://vision-datasets/train" },
    ],
    budget: { monthlyUsd: 1_000_000, alertEmails: ["ml-infra@example.com"], thresholdsPct: [50, 80, 100],
              enforce: "stop" },
});

// The components alone, linked by plain IDs: a network, a filesystem and a fleet mounting it.
const zone = "use1-az4";
const net = new aifactory.ClusterNetwork("bench-net", { region: "us-east-1", cidr: "10.42.0.0/16", zone });
const fs = new aifactory.ParallelFilesystem("bench-fs", {
    capacityGib: 1200,
    throughputMbpsPerTib: 125,
    zone,
    vpcId: net.vpcId,
    clusterSecurityGroupId: net.clusterSecurityGroupId,
    subnetId: net.storageSubnetId,
});
const bench = new aifactory.GpuFleet("bench", {
    instanceType: "p5en.48xlarge",
    nodes: 2,
    capacity: "spot",
    zone,
    subnetId: net.computeSubnetId,
    securityGroupId: net.clusterSecurityGroupId,
    filesystems: [{ dnsName: fs.dnsName, mountName: fs.mountName, mountPoint: "/fsx" }],
});

export const fleetGroups = factory.fleetGroups;
export const mounts = factory.filesystemMountCommands;
export const budget = factory.budgetName;
export const benchGroups = bench.groupNames;
export const region: pulumi.Output<string> = factory.region;
