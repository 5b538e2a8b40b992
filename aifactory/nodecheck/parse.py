"""Parsers of what the node's tools print (formats as recorded on real machines: see
tests/fixtures/nodecheck/README.md for every sample and where it comes from)."""

from __future__ import annotations

import csv
import re
from typing import Dict, List, Optional, Tuple

# The fields `nvidia-smi --query-gpu` is asked for, in order.
QUERY_FIELDS = (
    "index", "name", "uuid", "pci.bus_id", "memory.total", "power.limit", "power.default_limit",
    "power.max_limit", "power.min_limit", "power.draw", "temperature.gpu", "ecc.mode.current",
    "ecc.errors.uncorrected.volatile.total", "clocks.max.sm", "clocks.max.mem", "driver_version",
    "vbios_version", "persistence_mode", "mig.mode.current",
)
_UNIT = re.compile(r"\s+(MiB|W|MHz|%)$")


def smi_query(text: str) -> List[Dict[str, str]]:
    """Rows of `nvidia-smi --query-gpu=<QUERY_FIELDS> --format=csv[,noheader][,nounits]`, one dict per
    GPU, units stripped ("81559 MiB" -> "81559"); a header line, if any, is skipped."""
    rows = []
    for values in csv.reader([line for line in text.splitlines() if line.strip()], skipinitialspace=True):
        if values and values[0].strip() == "index":
            continue  # the header of --format=csv
        values = [_UNIT.sub("", v.strip()) for v in values]
        if len(values) != len(QUERY_FIELDS):
            raise ValueError("nvidia-smi --query-gpu printed %d fields, not %d: %r" % (len(values), len(QUERY_FIELDS), values))
        rows.append(dict(zip(QUERY_FIELDS, values)))
    return rows


_GPU_HEADER = re.compile(r"^GPU ([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])\s*$")


def smi_details(text: str) -> List[Dict[str, str]]:
    """`nvidia-smi -q`, one dict per GPU block: "Section/Subsection/Key" -> value, plus "bus_id"."""
    gpus: List[Dict[str, str]] = []
    current: Optional[Dict[str, str]] = None
    stack: List[Tuple[int, str]] = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        header = _GPU_HEADER.match(raw)
        if header:
            current = {"bus_id": header.group(1)}
            gpus.append(current)
            stack = []
            continue
        if current is None:
            continue
        indent = len(raw) - len(raw.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        line = raw.strip()
        if " : " in raw or line.endswith(" :"):
            key, _, value = line.partition(":")
            path = "/".join([title for _, title in stack] + [key.strip()])
            current[path] = value.strip()
        else:
            stack.append((indent, line))
    return gpus


_NVLINK_GPU = re.compile(r"^GPU (\d+): (.*?)(?: \(UUID: .*\))?$")
_NVLINK_LINK = re.compile(r"^Link (\d+): (.*)$")


def nvlink_status(text: str) -> Dict[int, List[Tuple[int, Optional[float]]]]:
    """`nvidia-smi nvlink -s`: GPU index -> [(link, GB/s or None when inactive)]. A GPU whose links are
    all inactive prints no link lines ("NVML: Unable to retrieve NVLink information as all links are
    inactive") and maps to an empty list."""
    gpus: Dict[int, List[Tuple[int, Optional[float]]]] = {}
    current: Optional[int] = None
    for raw in text.splitlines():
        line = raw.strip()
        gpu = _NVLINK_GPU.match(line)
        if gpu:
            current = int(gpu.group(1))
            gpus[current] = []
            continue
        link = _NVLINK_LINK.match(line)
        if link and current is not None:
            speed = re.match(r"^([\d.]+) GB/s$", link.group(2).strip())
            gpus[current].append((int(link.group(1)), float(speed.group(1)) if speed else None))
    return gpus


def efa_devices(text: str) -> List[str]:
    """EFA devices in `fi_info -p efa`: libfabric prints one record per (fabric, endpoint type) of each
    device (efa-direct and efa RDM, efa DGRAM), each naming a domain `<device>-rdm` / `<device>-dgrm`."""
    devices = []
    provider = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("provider:"):
            provider = line.split(":", 1)[1].strip()
        elif line.startswith("domain:") and provider == "efa":
            domain = line.split(":", 1)[1].strip()
            device = re.sub(r"-(rdm|dgrm)$", "", domain)
            if device not in devices:
                devices.append(device)
    return devices


def ib_rate_gbps(text: str) -> Optional[float]:
    """`/sys/class/infiniband/<dev>/ports/<n>/rate`, e.g. "400 Gb/sec (4X NDR)" -> 400.0."""
    match = re.match(r"^\s*([\d.]+) Gb/sec", text or "")
    return float(match.group(1)) if match else None


def nccl_busbw(text: str) -> Optional[float]:
    """The "# Avg bus bandwidth : N" line nccl-tests print at the end of a run, in GB/s."""
    match = re.search(r"#\s*Avg bus bandwidth\s*:\s*([\d.]+)", text)
    return float(match.group(1)) if match else None
