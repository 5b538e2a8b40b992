"""The node checker against outputs recorded on a real H100 80GB HBM3 VM (one GPU) and fixtures derived
from them one change at a time (tests/fixtures/nodecheck/README.md): the exit code, the JSON report and
the named reason are the contract."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from aifactory.nodecheck import checks, cli, expect, parse
from aifactory.nodecheck.host import RecordedHost

FIXTURES = Path(__file__).parent / "fixtures" / "nodecheck"
SINGLE_H100 = {
    "instance_type": "h100-80gb-hbm3-vm", "cloud": "none", "gpu_vendor": "nvidia", "gpu_count": 1,
    "gpu_name_contains": "H100 80GB HBM3", "gpu_memory_mib_min": expect.min_memory_mib(80), "power_default_w": 700,
}


def recorded(case: str) -> RecordedHost:
    folder = FIXTURES / case
    read = lambda name: (folder / name).read_text() if (folder / name).exists() else None  # noqa: E731
    commands = {}
    for argv, name in ((checks.SMI_QUERY, "nvidia-smi-query.csv"), (checks.SMI_DETAILS, "nvidia-smi-q.txt"),
                       (checks.NVLINK, "nvlink-s.txt"), (checks.FI_INFO, "fi-info-efa.txt")):
        if read(name) is not None:
            commands[" ".join(argv)] = (0, read(name))
    if read("fabricmanager.txt") is not None:
        state = read("fabricmanager.txt")
        commands[" ".join(checks.FABRIC_MANAGER)] = (0 if state.strip() == "active" else 3, state)
    files = {"/proc/driver/nvidia/version": read("proc-driver-nvidia-version.txt")}
    for path in (folder / "sys").rglob("*") if (folder / "sys").exists() else ():
        if path.is_file():
            files["/" + str(path.relative_to(folder))] = path.read_text()
    return RecordedHost(commands, {k: v for k, v in files.items() if v is not None})


def check(case: str, expectation: dict | str, *extra: str, capsys) -> tuple[int, dict]:
    args = ["--expect-type", expectation] if isinstance(expectation, str) else ["--expect", json.dumps(expectation)]
    code = cli.main([*args, "--report", "-", *extra], host=recorded(case))
    return code, json.loads(capsys.readouterr().out)


def by_name(report: dict) -> dict[str, dict]:
    return {c["check"]: c for c in report["checks"]}


# ------------------------------------------------------------------------ the real single-GPU VM


def test_real_h100_vm_passes_every_gpu_check_with_its_expectation(capsys):
    code, report = check("h100-80gb-hbm3", SINGLE_H100, capsys=capsys)
    results = by_name(report)
    assert code == 0 and report["passed"] is True and report["failed"] == []
    for name in ("gpu.driver", "gpu.count", "gpu.model", "gpu.memory", "gpu.persistence_mode", "gpu.ecc_mode",
                 "gpu.ecc_uncorrectable", "gpu.row_remapping", "gpu.power_limit", "gpu.throttle"):
        assert results[name]["status"] == "pass", results[name]
    assert results["gpu.power_limit"]["value"] == [700.0] and results["gpu.memory"]["value"] == [81559.0]
    assert results["nvlink.links"]["status"] == "skip" and results["fabric"]["status"] == "skip"


def test_real_h100_vm_is_not_a_p5(capsys):
    code, report = check("h100-80gb-hbm3", "p5.48xlarge", capsys=capsys)
    results = by_name(report)
    assert code == 1
    assert results["gpu.count"]["reason"] == "1 of 8 GPUs visible to nvidia-smi"
    assert results["fabric.efa"]["status"] == "fail" and results["nvlink.links"]["status"] == "fail"


def test_real_outputs_parse_as_recorded():
    folder = FIXTURES / "h100-80gb-hbm3"
    [row] = parse.smi_query((folder / "nvidia-smi-query.csv").read_text())
    assert row["name"] == "NVIDIA H100 80GB HBM3" and row["memory.total"] == "81559" and row["power.limit"] == "700.00"
    [gpu] = parse.smi_details((folder / "nvidia-smi-q.txt").read_text())
    assert gpu["bus_id"] == "00000000:00:06.0" and gpu["Remapped Rows/Pending"] == "No"
    assert gpu["ECC Errors/Volatile/DRAM Uncorrectable"] == "0"
    assert gpu["Clocks Event Reasons/HW Slowdown"] == "Not Active"
    assert gpu["Clocks Event Reasons/HW Thermal Slowdown"] == "Not Active"
    assert parse.nvlink_status((folder / "nvlink-s.txt").read_text()) == {}


def test_query_without_header_and_units_parses_like_the_recorded_csv():
    recorded_csv = (FIXTURES / "h100-80gb-hbm3" / "nvidia-smi-query.csv").read_text()
    bare = recorded_csv.splitlines()[1]
    for unit in (" MiB", " W", " MHz"):
        bare = bare.replace(unit, "")
    assert parse.smi_query(bare + "\n") == parse.smi_query(recorded_csv)


# ------------------------------------------------------------------------ 8-GPU HGX, derived


def test_derived_hgx_h100_passes_as_p5(capsys):
    code, report = check("hgx-h100-8gpu", "p5.48xlarge", capsys=capsys)
    results = by_name(report)
    assert code == 0, report["failed"]
    assert results["gpu.count"]["value"] == 8 and results["fabric.efa"]["value"] == 32
    assert results["nvlink.links"]["status"] == "pass" and results["nvlink.fabric_manager"]["value"] == "active"


@pytest.mark.parametrize(
    ("case", "type_", "failing", "reason"),
    [
        ("missing-gpu", "p5.48xlarge", "gpu.count", "7 of 8 GPUs visible to nvidia-smi"),
        ("power-500w", "p5.48xlarge", "gpu.power_limit", "GPU 3 (00000000:5D:00.0): power limit 500 W, not the default 700 W"),
        ("ecc-uncorrectable", "p5.48xlarge", "gpu.ecc_uncorrectable",
         "GPU 2 (00000000:3A:00.0): 1 uncorrectable ECC errors since boot, volatile DRAM Uncorrectable = 1"),
        ("nvlink-down", "p5.48xlarge", "nvlink.links", "GPU 5: link 7 down"),
        ("fabricmanager-inactive", "p5.48xlarge", "nvlink.fabric_manager",
         "nvidia-fabricmanager is inactive: NVSwitch GPUs cannot use NVLink without it"),
        ("efa-31-of-32", "p5.48xlarge", "fabric.efa", "31 of 32 EFA devices visible to libfabric"),
        ("ib-port-down", "Standard_ND96isr_H100_v5", "fabric.infiniband", "mlx5_ib3/1 is 1: DOWN"),
    ],
)
def test_one_fault_fails_one_named_check(case, type_, failing, reason, capsys):
    code = cli.main(["--expect-type", type_, "--report", "-"], host=recorded(case))
    out, err = capsys.readouterr()
    report = json.loads(out)
    results = by_name(report)
    assert code == 1 and failing in report["failed"]
    assert results[failing]["status"] == "fail" and results[failing]["reason"] == reason
    assert "nodecheck: FAIL %s: %s" % (failing, reason) in err


def test_a_fault_fails_only_its_own_checks(capsys):
    _, report = check("power-500w", "p5.48xlarge", capsys=capsys)
    assert report["failed"] == ["gpu.power_limit"]
    _, report = check("efa-31-of-32", "p5.48xlarge", capsys=capsys)
    assert report["failed"] == ["fabric.efa"]


def test_azure_nd_h100_counts_only_infiniband_ports_at_their_rate(capsys):
    code, report = check("nd-h100-v5", "Standard_ND96isr_H100_v5", capsys=capsys)
    ib = by_name(report)["fabric.infiniband"]
    assert code == 0 and ib["status"] == "pass" and "mlx5_an0/1" not in ib["value"]
    assert ib["expected"] == "8 InfiniBand ports ACTIVE at 400 Gb/s"


def test_a_slow_nvlink_fails_against_the_fastest_link():
    status = parse.nvlink_status((FIXTURES / "hgx-h100-8gpu" / "nvlink-s.txt").read_text().replace(
        "\t Link 2: 26.562 GB/s\nGPU 1", "\t Link 2: 26.562 GB/s\nGPU 1", 1))
    assert len(status) == 8 and all(len(v) == 18 for v in status.values())
    host = recorded("hgx-h100-8gpu")
    key = " ".join(checks.NVLINK)
    host.commands[key] = (0, host.commands[key][1].replace("\t Link 2: 26.562 GB/s", "\t Link 2: 1.562 GB/s", 1))
    [links, *_] = checks.nvlink(host, expect.from_catalog("p5.48xlarge"))
    assert links.status == "fail" and links.reason == "GPU 0: link 2 (1.562 GB/s) below 26.562 GB/s"


def test_all_links_inactive_as_nvidia_smi_prints_it():
    text = "GPU 6: NVIDIA A100-SXM4-80GB (UUID: GPU-9667d95e-6d22-0c22-1f57-c481f13e7c44)\n" \
           "NVML: Unable to retrieve NVLink information as all links are inactive\n"
    assert parse.nvlink_status(text) == {6: []}


# ------------------------------------------------------------------------ the command line


def test_bad_expectation_is_refused_with_its_fields(capsys):
    code = cli.main(["--expect", json.dumps({"gpu_count": "8", "colour": 1}), "--report", "-"], host=RecordedHost({}, {}))
    err = capsys.readouterr().err
    assert code == 2
    for problem in ("--expect.colour: unknown field", "--expect.gpu_count: must be int, not '8'",
                    "--expect.instance_type: required"):
        assert problem in err
    assert cli.main(["--expect-type", "p9.96xlarge"], host=RecordedHost({}, {})) == 2


def test_report_file_is_written_and_the_missing_driver_fails(tmp_path, capsys):
    path = tmp_path / "log" / "nodecheck.json"
    code = cli.main(["--expect-type", "p5.48xlarge", "--report", str(path)], host=RecordedHost({}, {}))
    report = json.loads(path.read_text())
    assert code == 1 and report["passed"] is False
    assert by_name(report)["gpu.driver"]["reason"].startswith("/proc/driver/nvidia/version is missing")
    assert by_name(report)["gpu.query"]["reason"] == "nvidia-smi is not installed"


def test_expectation_of_p5_from_the_catalog():
    e = expect.from_catalog("p5.48xlarge")
    assert (e.gpu_count, e.gpu_name_contains, e.power_default_w, e.nvlink_links, e.fabric, e.fabric_interfaces) == (
        8, "H100 80GB HBM3", 700.0, 18, "efa", 32)
    assert e.fabric_manager is True and e.gpu_memory_mib_min == 76293 and e.fabric_gbps_per_interface == 100.0
    assert expect.from_json(e.to_json()) == e
    assert expect.from_catalog("a3-megagpu-8g").fabric_manager is False  # trained below the guest on Google Cloud


def test_deep_checks_run_dcgm_and_nccl_when_installed(capsys):
    host = recorded("hgx-h100-8gpu")
    host.commands["dcgmi diag -r 1"] = (0, "| Deployment            | Pass |\n")
    host.commands["all_reduce_perf -b 16G -e 16G -g 8"] = (0, "# Out of bounds values : 0 OK\n# Avg bus bandwidth    : 401.5 \n")
    code = cli.main(["--expect-type", "p5.48xlarge", "--report", "-", "--deep"], host=host)
    report = json.loads(capsys.readouterr().out)
    nccl = by_name(report)["nccl.all_reduce"]
    assert code == 1 and nccl["reason"] == "all-reduce bus bandwidth 401.5 GB/s, below 460 GB/s"
    assert by_name(report)["dcgm.diag"]["status"] == "pass"


def test_sources_are_python_3_8_syntax():
    for path in (Path(cli.__file__).parent).glob("*.py"):
        ast.parse(path.read_text(), feature_version=(3, 8))


# ------------------------------------------------------------------------ the health endpoint


def test_health_endpoint_answers_only_while_the_last_report_passed(tmp_path):
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    report = tmp_path / "nodecheck.json"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "aifactory.nodecheck", "serve", "--port", str(port),
                               "--report", str(report), "--max-age", "600"],
                              cwd=Path(__file__).resolve().parent.parent)

    def probe() -> tuple[int, dict]:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the endpoint never answered")

    try:
        assert probe()[0] == 503  # no report yet: not ready
        report.write_text(json.dumps({"passed": True, "failed": []}))
        assert probe() == (200, {"ApplicationHealthState": "Healthy", "reason": "passed"})
        report.write_text(json.dumps({"passed": False, "failed": ["gpu.power_limit"]}))
        assert probe() == (503, {"ApplicationHealthState": "Unhealthy", "reason": "failed: gpu.power_limit"})
        report.write_text(json.dumps({"passed": True, "failed": []}))
        old = time.time() - 3600
        os.utime(report, (old, old))
        status, body = probe()
        assert status == 503 and body["reason"].endswith("s old (more than 600 s)")
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_efa_count_is_skipped_where_the_catalog_has_none():
    e = expect.from_catalog("g6e.48xlarge")  # EFA, but the catalog has no card count for it
    [efa] = checks.fabric(RecordedHost({}, {}), e)
    assert (efa.name, efa.status, efa.reason) == ("fabric.efa", "skip", "the catalog has no EFA device count for g6e.48xlarge")
