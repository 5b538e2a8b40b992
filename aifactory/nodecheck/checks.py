"""The checks: each reads the machine through a `Host` and returns `Check`s (name, status, value,
expected, reason). A check that cannot read what it needs fails; one that does not apply is skipped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from . import parse
from .expect import Expectation
from .host import Host

PASS, FAIL, SKIP = "pass", "fail", "skip"
SMI_QUERY = ["nvidia-smi", "--query-gpu=" + ",".join(parse.QUERY_FIELDS), "--format=csv,noheader,nounits"]
SMI_DETAILS = ["nvidia-smi", "-q"]
NVLINK = ["nvidia-smi", "nvlink", "-s"]
FABRIC_MANAGER = ["systemctl", "is-active", "nvidia-fabricmanager"]
FI_INFO = ["fi_info", "-p", "efa"]
DCGM_DIAG = ["dcgmi", "diag", "-r", "1"]
IB_ROOT = "/sys/class/infiniband"
NET_ROOT = "/sys/class/net"
THROTTLE_REASONS = ("HW Slowdown", "HW Thermal Slowdown", "HW Power Brake Slowdown", "SW Thermal Slowdown")


@dataclass
class Check:
    name: str
    status: str
    value: Any = None
    expected: Any = None
    reason: str = ""

    def as_dict(self) -> Dict[str, Any]:
        return {"check": self.name, "status": self.status, "value": self.value, "expected": self.expected,
                "reason": self.reason}


def _gpu(row: Dict[str, str]) -> str:
    return "GPU %s (%s)" % (row.get("index", "?"), row.get("pci.bus_id", "?"))


def _number(text: Optional[str]) -> Optional[float]:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _each(name: str, rows: List[Dict[str, str]], bad: Dict[str, str], value: Any, expected: Any, ok: str) -> Check:
    if bad:
        return Check(name, FAIL, value, expected, "; ".join("%s: %s" % (gpu, why) for gpu, why in bad.items()))
    return Check(name, PASS, value, expected, ok % len(rows) if "%d" in ok else ok)


# --------------------------------------------------------------------------- GPUs


def driver(host: Host) -> Check:
    version = host.read("/proc/driver/nvidia/version")
    if not version:
        return Check("gpu.driver", FAIL, None, "loaded", "/proc/driver/nvidia/version is missing: the NVIDIA kernel module is not loaded")
    first = version.splitlines()[0].strip()
    return Check("gpu.driver", PASS, first, "loaded", "NVIDIA kernel module loaded")


def gpus(host: Host, expect: Expectation) -> List[Check]:
    if expect.gpu_vendor != "nvidia":
        return [Check("gpu", SKIP, None, expect.gpu_vendor, "%s GPUs are not checked by nvidia-smi" % expect.gpu_vendor)]
    query = host.run(SMI_QUERY)
    if query.returncode != 0:
        why = "nvidia-smi is not installed" if query.returncode == 127 else "nvidia-smi failed (%d): %s" % (
            query.returncode, query.stdout.strip()[:200])
        return [Check("gpu.query", FAIL, None, expect.gpu_count, why)]
    try:
        rows = parse.smi_query(query.stdout)
    except ValueError as e:
        return [Check("gpu.query", FAIL, None, expect.gpu_count, str(e))]
    details = host.run(SMI_DETAILS)
    blocks = parse.smi_details(details.stdout) if details.returncode == 0 else []
    by_bus = {b["bus_id"].upper().lstrip("0"): b for b in blocks}

    def block(row: Dict[str, str]) -> Optional[Dict[str, str]]:
        return by_bus.get(row.get("pci.bus_id", "").upper().lstrip("0"))

    checks = [
        _count(rows, expect),
        _model(rows, expect),
        _memory(rows, expect),
        _persistence(rows),
        _ecc_mode(rows),
        _ecc_errors(rows, block),
        _remapping(rows, block, details.returncode),
        _power(rows, expect),
        _throttle(rows, block, details.returncode),
    ]
    return checks


def _count(rows: List[Dict[str, str]], expect: Expectation) -> Check:
    have = len(rows)
    if have != expect.gpu_count:
        return Check("gpu.count", FAIL, have, expect.gpu_count,
                     "%d of %d GPUs visible to nvidia-smi" % (have, expect.gpu_count))
    return Check("gpu.count", PASS, have, expect.gpu_count, "%d GPUs" % have)


def _model(rows: List[Dict[str, str]], expect: Expectation) -> Check:
    bad = {_gpu(r): "is %r" % r["name"] for r in rows if expect.gpu_name_contains not in r["name"]}
    return _each("gpu.model", rows, bad, sorted({r["name"] for r in rows}), expect.gpu_name_contains,
                 "every GPU is a " + expect.gpu_name_contains)


def _memory(rows: List[Dict[str, str]], expect: Expectation) -> Check:
    values = [_number(r["memory.total"]) for r in rows]
    if expect.gpu_memory_mib_min is None:
        return Check("gpu.memory", SKIP, values, None, "the catalog has no memory figure for this GPU")
    bad = {}
    for r, mib in zip(rows, values):
        if mib is None or mib < expect.gpu_memory_mib_min:
            bad[_gpu(r)] = "%s MiB, below %d MiB" % (r["memory.total"], expect.gpu_memory_mib_min)
    return _each("gpu.memory", rows, bad, values, ">= %d MiB" % expect.gpu_memory_mib_min,
                 "every GPU has at least the memory of its type")


def _persistence(rows: List[Dict[str, str]]) -> Check:
    bad = {_gpu(r): "persistence mode %s" % r["persistence_mode"] for r in rows if r["persistence_mode"] != "Enabled"}
    return _each("gpu.persistence_mode", rows, bad, [r["persistence_mode"] for r in rows], "Enabled",
                 "persistence mode on for %d GPUs")


def _ecc_mode(rows: List[Dict[str, str]]) -> Check:
    bad = {_gpu(r): "ECC %s" % r["ecc.mode.current"] for r in rows if r["ecc.mode.current"] != "Enabled"}
    return _each("gpu.ecc_mode", rows, bad, [r["ecc.mode.current"] for r in rows], "Enabled", "ECC on for %d GPUs")


def _ecc_errors(rows: List[Dict[str, str]], block) -> Check:
    bad = {}
    for r in rows:
        total = _number(r["ecc.errors.uncorrected.volatile.total"])
        found = []
        if total is None:
            found.append("uncorrected volatile total unreadable (%r)" % r["ecc.errors.uncorrected.volatile.total"])
        elif total > 0:
            found.append("%d uncorrectable ECC errors since boot" % total)
        for key, value in sorted((block(r) or {}).items()):
            if key.startswith("ECC Errors/Volatile/") and "Uncorrectable" in key and (_number(value) or 0) > 0:
                found.append("volatile %s = %s" % (key.split("/", 2)[2], value))
        if found:
            bad[_gpu(r)] = ", ".join(found)
    return _each("gpu.ecc_uncorrectable", rows, bad,
                 [r["ecc.errors.uncorrected.volatile.total"] for r in rows], 0, "no uncorrectable ECC errors")


def _remapping(rows: List[Dict[str, str]], block, details_rc: int) -> Check:
    if details_rc != 0:
        return Check("gpu.row_remapping", FAIL, None, "none pending", "nvidia-smi -q failed (%d)" % details_rc)
    bad = {}
    for r in rows:
        details = block(r)
        if details is None:
            bad[_gpu(r)] = "not in nvidia-smi -q"
            continue
        found = [key for key, value in sorted(details.items())
                 if value == "Yes" and (key in ("Remapped Rows/Pending", "Remapped Rows/Remapping Failure Occurred")
                                        or key.startswith("Retired Pages/Pending"))]
        if found:
            bad[_gpu(r)] = ", ".join(found)
    return _each("gpu.row_remapping", rows, bad, None, "no pending row remap, remap failure or page retirement",
                 "no pending row remap or page retirement")


def _power(rows: List[Dict[str, str]], expect: Expectation) -> Check:
    bad = {}
    for r in rows:
        limit, default = _number(r["power.limit"]), _number(r["power.default_limit"])
        if limit is None or default is None:
            bad[_gpu(r)] = "power limit unreadable (%r / default %r)" % (r["power.limit"], r["power.default_limit"])
        elif limit != default:
            bad[_gpu(r)] = "power limit %g W, not the default %g W" % (limit, default)
        elif expect.power_default_w is not None and default != expect.power_default_w:
            bad[_gpu(r)] = "default power limit %g W, not the %g W of its model" % (default, expect.power_default_w)
    expected = "%g W" % expect.power_default_w if expect.power_default_w is not None else "the GPU's default"
    return _each("gpu.power_limit", rows, bad, [_number(r["power.limit"]) for r in rows], expected,
                 "every GPU at its default power limit")


def _throttle(rows: List[Dict[str, str]], block, details_rc: int) -> Check:
    if details_rc != 0:
        return Check("gpu.throttle", FAIL, None, "Not Active", "nvidia-smi -q failed (%d)" % details_rc)
    bad = {}
    for r in rows:
        details = block(r) or {}
        active = [key.split("/")[-1] for key, value in sorted(details.items())
                  if key.split("/")[0] in ("Clocks Event Reasons", "Clocks Throttle Reasons")
                  and key.split("/")[-1] in THROTTLE_REASONS and value == "Active"]
        if active:
            bad[_gpu(r)] = "active: " + ", ".join(active)
    return _each("gpu.throttle", rows, bad, None, "no hardware slowdown or thermal throttle",
                 "no hardware slowdown or thermal throttle")


# --------------------------------------------------------------------------- NVLink


def nvlink(host: Host, expect: Expectation) -> List[Check]:
    if not expect.nvlink_links or expect.gpu_vendor != "nvidia":
        return [Check("nvlink.links", SKIP, None, 0, "no NVLink expected on %s" % expect.instance_type)]
    checks = [_links(host, expect), _fabric_state(host)]
    if expect.fabric_manager:
        checks.append(_fabric_manager(host))
    return checks


def _links(host: Host, expect: Expectation) -> Check:
    out = host.run(NVLINK)
    expected = "%d links per GPU, all up at full speed" % expect.nvlink_links
    if out.returncode != 0:
        return Check("nvlink.links", FAIL, None, expected, "nvidia-smi nvlink -s failed (%d)" % out.returncode)
    status = parse.nvlink_status(out.stdout)
    speeds = [s for links in status.values() for _, s in links if s is not None]
    full = max(speeds) if speeds else None
    if expect.nvlink_gbps_per_link is not None:
        full = expect.nvlink_gbps_per_link
    bad = {}
    if len(status) != expect.gpu_count:
        bad["node"] = "%d of %d GPUs report NVLink" % (len(status), expect.gpu_count)
    for gpu, links in sorted(status.items()):
        down = [str(n) for n, s in links if s is None]
        slow = ["%d (%g GB/s)" % (n, s) for n, s in links if s is not None and full is not None and s < full]
        problems = []
        if not links:
            problems.append("all links inactive")
        elif len(links) != expect.nvlink_links:
            problems.append("%d links, not %d" % (len(links), expect.nvlink_links))
        if down:
            problems.append("link %s down" % ", ".join(down))
        if slow:
            problems.append("link %s below %g GB/s" % (", ".join(slow), full))
        if problems:
            bad["GPU %d" % gpu] = "; ".join(problems)
    value = {str(g): len([1 for _, s in links if s is not None]) for g, links in sorted(status.items())}
    if bad:
        return Check("nvlink.links", FAIL, value, expected, "; ".join("%s: %s" % kv for kv in bad.items()))
    return Check("nvlink.links", PASS, value, expected, "every link up at %s GB/s" % ("%g" % full if full else "?"))


def _fabric_state(host: Host) -> Check:
    out = host.run(SMI_DETAILS)
    blocks = parse.smi_details(out.stdout) if out.returncode == 0 else []
    states = {b["bus_id"]: (b.get("Fabric/State", "N/A"), b.get("Fabric/Status", "N/A")) for b in blocks}
    reported = {bus: s for bus, s in states.items() if s[0] != "N/A"}
    if not reported:
        return Check("nvlink.fabric_state", SKIP, None, "Completed/Success", "the GPUs report no NVLink fabric state")
    bad = {bus: "%s/%s" % s for bus, s in reported.items() if s != ("Completed", "Success")}
    if bad:
        return Check("nvlink.fabric_state", FAIL, bad, "Completed/Success",
                     "NVLink fabric not trained on " + ", ".join(sorted(bad)))
    return Check("nvlink.fabric_state", PASS, "Completed/Success", "Completed/Success", "NVLink fabric trained")


def _fabric_manager(host: Host) -> Check:
    out = host.run(FABRIC_MANAGER)
    state = out.stdout.strip() or ("systemctl missing" if out.returncode == 127 else "unknown")
    if state != "active":
        return Check("nvlink.fabric_manager", FAIL, state, "active",
                     "nvidia-fabricmanager is %s: NVSwitch GPUs cannot use NVLink without it" % state)
    return Check("nvlink.fabric_manager", PASS, state, "active", "nvidia-fabricmanager active")


# --------------------------------------------------------------------------- fabric


def fabric(host: Host, expect: Expectation) -> List[Check]:
    if expect.fabric == "efa":
        return [_efa(host, expect)]
    if expect.fabric == "infiniband":
        return [_rdma_ports(host, expect, "InfiniBand", "fabric.infiniband", check_rate=True)]
    if expect.fabric == "rdma":
        return [_rdma_ports(host, expect, "Ethernet", "fabric.rdma", check_rate=False)]
    if expect.fabric in ("gpudirect-tcpx", "gpudirect-tcpxo"):
        return [_gpu_nics(host, expect)]
    return [Check("fabric", SKIP, None, "none", "no GPU fabric on %s" % expect.instance_type)]


def _efa(host: Host, expect: Expectation) -> Check:
    if not expect.fabric_interfaces:
        return Check("fabric.efa", SKIP, None, None, "the catalog has no EFA device count for %s" % expect.instance_type)
    out = host.run(FI_INFO)
    devices = parse.efa_devices(out.stdout) if out.returncode == 0 else []
    if len(devices) < expect.fabric_interfaces:
        why = "fi_info is not installed" if out.returncode == 127 else "%d of %d EFA devices visible to libfabric" % (
            len(devices), expect.fabric_interfaces)
        return Check("fabric.efa", FAIL, len(devices), expect.fabric_interfaces, why)
    return Check("fabric.efa", PASS, len(devices), expect.fabric_interfaces, "%d EFA devices" % len(devices))


def _rdma_ports(host: Host, expect: Expectation, link_layer: str, name: str, check_rate: bool) -> Check:
    ports = []
    for device in host.listdir(IB_ROOT):
        for port in host.listdir("%s/%s/ports" % (IB_ROOT, device)):
            base = "%s/%s/ports/%s" % (IB_ROOT, device, port)
            if (host.read(base + "/link_layer") or "").strip() != link_layer:
                continue
            ports.append(("%s/%s" % (device, port), (host.read(base + "/state") or "").strip(),
                          (host.read(base + "/rate") or "").strip()))
    need_rate = expect.fabric_gbps_per_interface if check_rate else None
    expected = "%d %s ports ACTIVE%s" % (expect.fabric_interfaces, link_layer,
                                          " at %g Gb/s" % need_rate if need_rate else "")
    bad = []
    for port, state, rate in ports:
        if state != "4: ACTIVE":
            bad.append("%s is %s" % (port, state or "unreadable"))
        elif need_rate is not None and (parse.ib_rate_gbps(rate) or 0) < need_rate:
            bad.append("%s runs at %s" % (port, rate or "an unreadable rate"))
    active = len(ports) - len(bad)
    if len(ports) < expect.fabric_interfaces:
        bad.insert(0, "%d of %d %s ports present" % (len(ports), expect.fabric_interfaces, link_layer))
    value = {port: {"state": state, "rate": rate} for port, state, rate in ports}
    if bad:
        return Check(name, FAIL, value, expected, "; ".join(bad))
    return Check(name, PASS, value, expected, "%d %s ports active" % (active, link_layer))


def _gpu_nics(host: Host, expect: Expectation) -> Check:
    nics = [n for n in host.listdir(NET_ROOT) if host.read("%s/%s/device/uevent" % (NET_ROOT, n)) is not None]
    up = [n for n in nics if (host.read("%s/%s/operstate" % (NET_ROOT, n)) or "").strip() == "up"]
    need = expect.host_nics + expect.fabric_interfaces
    if len(up) < need:
        down = sorted(set(nics) - set(up))
        return Check("fabric.gpu_nics", FAIL, len(up), need, "%d of %d NICs up%s" % (
            len(up), need, " (down: %s)" % ", ".join(down) if down else ""))
    return Check("fabric.gpu_nics", PASS, len(up), need, "%d NICs up" % len(up))


# --------------------------------------------------------------------------- deep checks (boot only)


def dcgm(host: Host) -> Check:
    if not host.has("dcgmi"):
        return Check("dcgm.diag", SKIP, None, "Pass", "dcgmi is not installed on this image")
    out = host.run(DCGM_DIAG, timeout=900)
    failed = [line.strip() for line in out.stdout.splitlines() if "Fail" in line]
    if out.returncode != 0 or failed:
        return Check("dcgm.diag", FAIL, out.returncode, "Pass",
                     "dcgmi diag -r 1: " + ("; ".join(failed[:5]) or "exit %d" % out.returncode))
    return Check("dcgm.diag", PASS, 0, "Pass", "DCGM diagnostics level 1 passed")


def nccl(host: Host, expect: Expectation) -> Check:
    if not host.has("all_reduce_perf"):
        return Check("nccl.all_reduce", SKIP, None, expect.nccl_busbw_gbps_min, "all_reduce_perf is not installed on this image")
    argv = ["all_reduce_perf", "-b", "16G", "-e", "16G", "-g", str(expect.gpu_count)]
    out = host.run(argv, timeout=900)
    busbw = parse.nccl_busbw(out.stdout) if out.returncode == 0 else None
    if busbw is None:
        return Check("nccl.all_reduce", FAIL, None, expect.nccl_busbw_gbps_min,
                     "%s printed no bus bandwidth (exit %d)" % (" ".join(argv), out.returncode))
    if expect.nccl_busbw_gbps_min is None:
        return Check("nccl.all_reduce", PASS, busbw, None, "%g GB/s bus bandwidth (the catalog sets no floor)" % busbw)
    if busbw < expect.nccl_busbw_gbps_min:
        return Check("nccl.all_reduce", FAIL, busbw, expect.nccl_busbw_gbps_min,
                     "all-reduce bus bandwidth %g GB/s, below %g GB/s" % (busbw, expect.nccl_busbw_gbps_min))
    return Check("nccl.all_reduce", PASS, busbw, expect.nccl_busbw_gbps_min, "%g GB/s bus bandwidth" % busbw)


def run_all(host: Host, expect: Expectation, deep: bool = False) -> List[Check]:
    checks = [driver(host)] if expect.gpu_vendor == "nvidia" else []
    checks += gpus(host, expect) + nvlink(host, expect) + fabric(host, expect)
    if deep:
        checks += [dcgm(host), nccl(host, expect)]
    return checks
