"""Node bootstrap scripts keep every value they interpolate one shell word.

Every template of aifactory/components/templates is rendered, in each of its branches, with hostile
values in every slot a caller or a cloud fills (names, instance types, mount points, addresses,
images, counts, environment): the script must still pass `bash -n` and, parsed by tree-sitter's bash
grammar, hold exactly the commands, redirections, substitutions and here-documents it holds with
benign values, so no value ever becomes a command. Components used directly reach the same
guarantee: a fleet named like a shell injection renders inert user data, and a mount point that
cannot be one word of a script and a field of /etc/fstab is refused before anything is registered.
"""

from __future__ import annotations

import base64
import gzip
import importlib
import itertools
import re
import shutil
import subprocess

import jinja2
import pytest
import tree_sitter_bash
from tree_sitter import Language, Parser

from aifactory.components import common
from aifactory.components.common import mount_path, render

ISSUE_EXAMPLE = 'evil"; id; echo "$(id)`id`\nrm -rf / #'
HOSTILE = (
    ISSUE_EXAMPLE,
    "x'; id; echo '",
    "a\nid\n",
    "$(id)",
    "`id`",
    "${IFS}id",
    "a;id",
    "a|id",
    "a&&id",
    "a>/etc/passwd",
    "a b\tc",
    "-n",
    "\\\nid",
    "x\r\nid",
    "NCCL\nid\nNCCL",
    "EOF\nid",
    "LIMITS\nid",
    "*",
    "!id",
    "'",
    '"',
)
BENIGN = "benign"
BASH = shutil.which("bash")
PARSER = Parser(Language(tree_sitter_bash.language()))
# What must not change when a value changes: which commands run, where output goes, what runs in a
# substitution or subshell, the here-documents' text, which expansions happen.
STRUCTURE = {
    "command_name", "file_redirect", "heredoc_redirect", "heredoc_body", "herestring_redirect",
    "command_substitution", "process_substitution", "subshell", "pipeline", "list", "function_definition",
    "simple_expansion", "expansion", "arithmetic_expansion", "negated_command", "if_statement",
    "for_statement", "while_statement", "case_statement", "variable_assignment", "test_command",
}
WITH_TEXT = {"command_name", "file_redirect", "heredoc_body"}


QUOTED_HEREDOC = re.compile(r"<<'(\w+)'")


def lift_heredocs(script: str) -> tuple[str, list[str]]:
    """The script with every quoted here-document emptied, and the bodies, cut by bash's rule (the body
    ends at the first line that is exactly the delimiter); tree-sitter's scanner ends a body early at
    an indented line that starts with the delimiter."""
    lines = script.splitlines(keepends=True)
    kept, bodies, i = [], [], 0
    while i < len(lines):
        kept.append(lines[i])
        delimiters = QUOTED_HEREDOC.findall(lines[i])
        i += 1
        for delimiter in delimiters:
            body = []
            while i < len(lines) and lines[i].rstrip("\n") != delimiter:
                body.append(lines[i])
                i += 1
            assert i < len(lines), f"here-document {delimiter} never ends"
            bodies.append("".join(body))
            kept.append(lines[i])
            i += 1
    return "".join(kept), bodies


def structure(script: str) -> list[tuple[str, str]]:
    text, bodies = lift_heredocs(script)
    tree = PARSER.parse(text.encode())
    assert not tree.root_node.has_error, "tree-sitter could not parse the script"
    found = [("heredoc_body", body) for body in bodies]

    def walk(node):
        if node.type in STRUCTURE:
            found.append((node.type, node.text.decode() if node.type in WITH_TEXT else ""))
        if node.type in ("raw_string", "ansi_c_string"):
            return
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    return found


def command_names(script: str) -> set[str]:
    return {text for kind, text in structure(script) if kind == "command_name"}


def bash_n(script: str) -> None:
    done = subprocess.run([BASH, "-n"], input=script, text=True, capture_output=True)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------ every template, every branch


def node_check(cloud: str, instance_type: str) -> dict:
    """The node checker each bootstrap includes (`nodecheck.sh.j2`): aifactory's own paths, port, hook
    name and the checker's source, none of them a user's value."""
    from aifactory.components import nodehealth

    return {"node_check": True, **nodehealth.context(cloud, instance_type)}


def aws(v, mounted: bool):
    mounts = [{"dns_name": v, "mount_name": v, "mount_point": v}, {"dns_name": v, "mount_name": v, "mount_point": v}]
    return "aws-node-bootstrap.sh.j2", {
        "fleet": v, "instance_type": v, "efa_interfaces": v, "mounts": mounts if mounted else [],
        **node_check("aws", "p5.48xlarge"),
    }


def azure(v, fabric: str, extras: bool):
    filesystems = [{"name": v, "path": v, "mgs": v, "fsname": v, "options": v}] if extras else []
    return "azure-node-bootstrap.sh.j2", {
        "fleet": v, "instance_type": v, "fabric": fabric, "ib_ports": v,
        "topology_file": v if extras else None, "extra_env": {v: v} if extras else {}, "filesystems": filesystems,
        **node_check("azure", "Standard_ND96isr_H100_v5"),
    }


def gcp(v, fabric: str, kind: str | None):
    mounts = [{"kind": kind, "path": v, "source": v}, {"kind": kind, "path": v, "source": v}] if kind else []
    return "gcp-startup.sh.j2", {
        "group": v, "machine_type": v, "fabric": fabric, "mounts": mounts,
        "tcpx_plugin_image": v, "tcpx_rxdm_image": v, "tcpxo_plugin_image": v, "tcpxo_rxdm_image": v,
        **node_check("gcp", "a3-megagpu-8g"),
    }


VARIANTS = {
    **{f"aws-mounts={m}": (aws, (m,)) for m in (False, True)},
    **{f"azure-{f}-extras={e}": (azure, (f, e)) for f, e in itertools.product(("infiniband", "none"), (False, True))},
    **{
        f"gcp-{f}-{k}": (gcp, (f, k))
        for f, k in itertools.product(
            ("gpudirect-tcpx", "gpudirect-tcpxo", "rdma", "none"), (None, "lustre", "parallelstore", "filestore")
        )
    },
}


INCLUDED = {"nodecheck.sh.j2"}  # rendered inside every bootstrap above (node_check on)


def test_every_template_is_covered():
    covered = {VARIANTS[key][0](BENIGN, *VARIANTS[key][1])[0] for key in VARIANTS} | INCLUDED
    assert covered == {path.name for path in common.TEMPLATES.glob("*.j2")}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_hostile_values_stay_inside_their_quotes(variant):
    build, choice = VARIANTS[variant]
    template, benign_context = build(BENIGN, *choice)
    benign = render(template, **benign_context)
    bash_n(benign)
    expected = structure(benign)
    for value in HOSTILE:
        script = render(template, **build(value, *choice)[1])
        bash_n(script)
        assert structure(script) == expected, f"{value!r} changed the structure of {template}"
        assert not {"id", "rm"} & command_names(script)


def test_the_parser_sees_an_injection_when_there_is_one():
    # The check above catches a value pasted unquoted, as the templates once did in a comment and an echo.
    naive = jinja2.Template('# bootstrap of {{ fleet }}\necho "start of {{ fleet }}"\n').render(fleet=ISSUE_EXAMPLE)
    assert {"id", "rm"} <= command_names(naive)
    quoted = render("aws-node-bootstrap.sh.j2", fleet=ISSUE_EXAMPLE, instance_type="p5.48xlarge",
                    efa_interfaces=32, mounts=[])
    assert not {"id", "rm"} & command_names(quoted)


def test_an_unquoted_interpolation_is_refused_at_render_time():
    environment = common._environment()
    with pytest.raises(jinja2.TemplateError, match="without `| shquote`"):
        environment.from_string("mkdir -p {{ path }}\n").render(path="/mnt/data")
    assert environment.from_string("mkdir -p {{ path | shquote }}\n").render(path="/mnt/a b") == "mkdir -p '/mnt/a b'\n"


# ------------------------------------------------------------------ mount points


@pytest.mark.parametrize("path", ["/fsx", "/mnt/data", "/fsx/scratch-01", "/mnt/a.b_c@d+e"])
def test_plain_absolute_paths_are_mount_points(path):
    assert mount_path(path) == path


@pytest.mark.parametrize(
    "path", ["", "/", "fsx", "/mnt/a b", "/mnt/x;id", "/mnt/$(id)", "/mnt/../etc", "/mnt/./x", "/mnt//x",
             "/mnt/x\nid", "/mnt/'x'", "/mnt/x/", 7, None]
)
def test_anything_else_is_refused_as_a_mount_point(path):
    with pytest.raises(ValueError, match="mount point must be an absolute path"):
        mount_path(path)


# ------------------------------------------------------------------ components used directly


def test_an_aws_fleet_named_like_an_injection_renders_inert_user_data():
    from aifactory.components.aws import ClusterNetwork, ClusterNetworkArgs, GpuFleet, GpuFleetArgs
    from aifactory.components.aws.filesystem import LustreMount
    from tests.harness import FakeCloud, run

    def program():
        network = ClusterNetwork("net", ClusterNetworkArgs(region="us-east-1", cidr="10.50.0.0/16", zone="us-east-1a"))
        GpuFleet(ISSUE_EXAMPLE, GpuFleetArgs(instance_type="p5.48xlarge", nodes=1, zone="us-east-1a", network=network,
                                             filesystems=[LustreMount(dns_name="fs-1.fsx.example.com",
                                                                      mount_name="abcdefgh", mount_point="/fsx")]))

    recorded = run(program, mocks=FakeCloud())
    template = recorded.one("aws:ec2/launchTemplate:LaunchTemplate")
    raw = base64.b64decode(template.inputs["userData"])
    script = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()
    bash_n(script)
    assert not {"id", "rm"} & command_names(script)
    assert "rm -rf /" not in [line.strip() for line in script.splitlines()]


def test_an_aws_fleet_refuses_a_mount_point_that_is_not_one_path():
    from aifactory.components.aws import GpuFleet, GpuFleetArgs
    from aifactory.components.aws.filesystem import LustreMount
    from tests.harness import FakeCloud, run

    def program():
        GpuFleet("f", GpuFleetArgs(instance_type="p5.48xlarge", nodes=1, zone="us-east-1a", subnet_id="subnet-1",
                                   security_group_id="sg-1",
                                   filesystems=[LustreMount(dns_name="d", mount_name="m", mount_point="/fsx; id")]))

    with pytest.raises(Exception, match="mount point must be an absolute path"):
        run(program, mocks=FakeCloud())


FILESYSTEM_ARGS = {
    "aws": {"capacity_gib": 1200, "throughput_mbps_per_tib": 125, "network": None, "zone": "us-east-1a"},
    "azure": {"kind": "lustre", "capacity_gib": 16 * 1024, "throughput_mbps_per_tib": 125, "network": None},
    "gcp": {"kind": "lustre", "capacity_gib": 18000, "throughput_mbps_per_tib": 500, "network": None, "zone": "z"},
}


@pytest.mark.parametrize("cloud", sorted(FILESYSTEM_ARGS))
def test_every_cloud_filesystem_refuses_a_hostile_mount_point_before_registering(cloud):
    from tests.harness import FakeCloud, run

    module = importlib.import_module(f"aifactory.components.{cloud}.filesystem")
    field = "mount_point" if cloud == "aws" else "mount_path"
    registered = []

    class Recording(FakeCloud):
        def new_resource(self, args):
            registered.append(args.typ)
            return super().new_resource(args)

    def program():
        args = module.ParallelFilesystemArgs(**FILESYSTEM_ARGS[cloud], **{field: "/mnt/x\nid"})
        module.ParallelFilesystem("fs", args)

    with pytest.raises(Exception, match="mount point must be an absolute path"):
        run(program, mocks=Recording())
    assert registered == []
