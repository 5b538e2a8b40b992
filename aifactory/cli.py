"""The `aifactory` command.

Exit status: 0 fine, 1 a mandatory policy violation (or a limit crossed in diff), 2 bad
input or usage, 3 an internal error (a bug: one line on standard error names the file holding
the full trace). Commands that run no Pulumi program never import the Pulumi or cloud SDKs.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from enum import Enum
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from aifactory.problems import SpecError

app = typer.Typer(
    name="aifactory",
    help="Provision GPU facilities on AWS, Azure and Google Cloud; judge them before deploy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
catalog_app = typer.Typer(help="Browse the sourced catalog of GPU instance types.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")

# The terminal's own width when there is one; a wide page when piped (CI logs, files).
out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 160)


class Format(str, Enum):
    text = "text"
    json = "json"


class ReportFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    sarif = "sarif"
    junit = "junit"


class CloudName(str, Enum):
    aws = "aws"
    azure = "azure"
    gcp = "gcp"


class Rank(str, Enum):
    cost = "cost"
    carbon = "carbon"
    power = "power"
    efficiency = "efficiency"


class CapacityName(str, Enum):
    on_demand = "on-demand"
    spot = "spot"
    reservation = "reservation"
    capacity_block = "capacity-block"


def progress(message: str) -> None:
    """A phase of a long command, on stderr when a person watches it; nothing when piped."""
    if sys.stderr.isatty():
        err.print(f"[dim]… {message}[/]", markup=True)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            sys.stdout.write(f"aifactory {version('aifactory')}\n")
        except PackageNotFoundError:
            sys.stdout.write("aifactory (not installed)\n")
        raise typer.Exit()


@app.callback()
def options(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Provision GPU facilities on AWS, Azure and Google Cloud; judge them before deploy."""


def refuse(error: SpecError, what: str) -> NoReturn:
    err.print(f"[bold red]{escape(what)}[/] ({len(error.problems)} problem{'s' if len(error.problems) != 1 else ''}):")
    for problem in error.problems:
        err.print(f"  {problem}", markup=False)
    raise typer.Exit(2)


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n")


@app.command()
def validate(
    stack: str = typer.Argument(..., help="A stack name in stacks/ or a path to a Pulumi.<stack>.yaml file."),
    format: Format = typer.Option(Format.text, "--format", "-f"),
    pricing: Path | None = typer.Option(
        None, "--pricing", metavar="FILE",
        help="Org pricing file (default: the policy pack's policies/config/pricing.yaml).",
    ),
) -> None:
    """Check a stack config against the catalog and the clouds' rules; summarise what it asks for."""
    from aifactory import estimate, pricingfile, stackfile
    from aifactory.loader import load_facility
    from aifactory.notes import notes

    try:
        org_pricing = pricingfile.load(pricing)
    except SpecError as error:
        refuse(error, f"invalid pricing file {pricing or pricingfile.BUNDLED}")
    try:
        stack_file = stackfile.read(stack)
        spec = load_facility(stack_file.facility)
    except SpecError as error:
        refuse(error, f"invalid stack config {stack}")
    result = estimate.estimate_spec(spec, org_pricing)
    if format is Format.json:
        print_json(
            {"stack": stack_file.name, "path": str(stack_file.path), "valid": True,
             "facility": spec.model_dump(mode="json"), "estimate": result.to_json(), "notes": notes(spec)}
        )
        return
    from aifactory.report import tables

    where = f"{spec.cloud} {spec.region}" + (f" zone {spec.zone}" if spec.zone else "")
    out.print(f"[green]valid[/] {escape(str(stack_file.path))}: facility [bold]{spec.name}[/] of team {spec.team} on {where}")
    for fs in spec.filesystems:
        size = f"{fs.capacity_tib:g} TiB" if fs.capacity_tib is not None else f"{fs.capacity_gib} GiB"
        out.print(f"  filesystem {fs.name}: {fs.kind} {size}"
                  + (f" at {fs.throughput_mbps_per_tib} MB/s/TiB" if fs.throughput_mbps_per_tib else ""))
    if spec.budget:
        out.print(f"  budget: ${spec.budget.monthly_usd:,.0f}/month, alerts at "
                  f"{', '.join(f'{t}%' for t in spec.budget.thresholds_pct)} to {', '.join(spec.budget.alert_emails)}",
                  markup=False)
    out.print(tables.estimate_table(result.to_json()))
    out.print(tables.prices_as_of_text(result.to_json()), markup=False)
    out.print(tables.energy_table(result.to_json()))
    for gap in result.missing:
        out.print(f"[yellow]incomplete:[/] {escape(gap)}")
    for note in notes(spec):
        out.print(f"[yellow]note:[/] {escape(note)}")


@app.command()
def preview(
    stack: str = typer.Argument(..., help="A stack name in stacks/ or a path to a Pulumi.<stack>.yaml file."),
    policy_config: Path | None = typer.Option(
        None, "--policy-config", help="CrossGuard policy-pack config (default: policies/config/<team>.json, else default.json)."
    ),
    format: ReportFormat = typer.Option(ReportFormat.text, "--format", "-f"),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout."),
    pricing: Path | None = typer.Option(
        None, "--pricing", metavar="FILE",
        help="Org pricing file (default: the policy pack's policies/config/pricing.yaml).",
    ),
    project: Path | None = typer.Option(
        None, "--project", help="The Pulumi project to run (default: the one at or above the working directory)."
    ),
) -> None:
    """Run the stack's program offline under mocks and judge it with the real policy pack."""
    from aifactory import pricingfile
    from aifactory.policyconfig import PolicyConfigProblems
    from aifactory.preview import preview as run_preview

    try:
        org_pricing = pricingfile.load(pricing)
    except SpecError as error:
        refuse(error, f"invalid pricing file {pricing or pricingfile.BUNDLED}")
    try:
        check_output(output)
        result = run_preview(stack, policy_config, org_pricing, project, progress=progress)
    except PolicyConfigProblems as error:
        refuse(error, f"invalid policy config {policy_config}")
    except SpecError as error:
        refuse(error, f"invalid stack config {stack}")
    doc = result.to_json()
    if format is ReportFormat.text and output is None:
        from aifactory.report.text import render_preview

        out.print(render_preview(doc))
    else:
        emit(render_report(doc, format), output)
    if result.mandatory:
        raise typer.Exit(1)


def render_report(doc: dict, format: "ReportFormat") -> str:
    if format is ReportFormat.json:
        return json.dumps(doc, indent=2, allow_nan=False) + "\n"
    if format is ReportFormat.markdown:
        from aifactory.report.markdown import render_preview

        return render_preview(doc)
    if format is ReportFormat.sarif:
        from aifactory.report.sarif import render

        return json.dumps(render(doc, doc["stack_config"]), indent=2, allow_nan=False) + "\n"
    if format is ReportFormat.junit:
        from aifactory.report.junit import render

        return render(doc)
    from rich.console import Console

    from aifactory.report.text import render_preview

    console = Console(record=True, width=160, file=open("/dev/null", "w"))
    console.print(render_preview(doc))
    return console.export_text()


def check_output(output: Path | None) -> None:
    """Refuse an --output the report could not be written to, before any work is done."""
    from aifactory.problems import Problem

    if output is None:
        return
    if output.is_dir():
        raise SpecError([Problem(f"--output {output}", "is a directory; give a file name")])
    folder = output.parent
    if not folder.is_dir():
        raise SpecError([Problem(f"--output {output}", f"its directory {folder} does not exist")])


def emit(text: str, output: Path | None) -> None:
    from aifactory.problems import Problem

    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        refuse(SpecError([Problem(f"--output {output}", f"cannot be written: {error.strerror or error}")]), "cannot write the report")


@app.command()
def quote(
    gpu: str = typer.Option(..., "--gpu", help="GPU model, e.g. H100, H200, B200, A100-80GB."),
    gpus: int = typer.Option(..., "--gpus", min=1, help="How many GPUs in all."),
    cloud: CloudName | None = typer.Option(None, "--cloud"),
    region: str | None = typer.Option(None, "--region"),
    capacity: CapacityName = typer.Option(CapacityName.on_demand, "--capacity"),
    rank: Rank = typer.Option(Rank.cost, "--rank", help="Order by monthly USD, tCO2e, facility kW or PFLOPS per MW."),
    limit: int = typer.Option(0, "--limit", min=0, help="Show only the N best ranked (0: all)."),
    format: Format = typer.Option(Format.text, "--format", "-f"),
    pricing: Path | None = typer.Option(
        None, "--pricing", metavar="FILE",
        help="Org pricing file (default: the policy pack's policies/config/pricing.yaml).",
    ),
) -> None:
    """Every cloud, region and type in the catalog that can host a GPU ask, cheapest (or per --rank) first."""
    from aifactory import catalog, pricingfile
    from aifactory.quote import quote as make_quote

    if gpu.lower() not in {m.lower() for m in catalog.gpu_models()}:
        err.print(f"unknown GPU model '{gpu}'; the catalog has: {', '.join(catalog.gpu_models())}", markup=False)
        raise typer.Exit(2)
    try:
        org_pricing = pricingfile.load(pricing)
    except SpecError as error:
        refuse(error, f"invalid pricing file {pricing or pricingfile.BUNDLED}")
    quotes = make_quote(gpu, gpus, cloud=cloud.value if cloud else None, region=region, capacity=capacity.value,
                        pricing=org_pricing, rank=rank.value)
    if limit:
        quotes = quotes[:limit]
    if format is Format.json:
        print_json([q.to_json() for q in quotes])
        return
    if not quotes:
        out.print(f"no catalog type with {gpu} matches those filters")
        return
    from rich.table import Table

    from aifactory.report.tables import kw, money, num

    factor = quotes[0].load_factor if quotes else 1.0
    upper = ", an upper bound" if factor == 1 else ""
    table = Table(title=f"{gpus} x {gpu}, {capacity.value}, 730 h/month at load factor {factor:g}{upper}; ranked by {rank.value}",
                  title_justify="left")
    numeric = ("nodes", "GPUs", "$/month", "facility kW", "tCO2e/month", "PFLOPS BF16", "PFLOPS/MW", "fabric Gbps/GPU")
    for column in ("cloud", "region", "instance type", "nodes", "GPUs", "$/month", "basis", "prices as of",
                   "facility kW", "tCO2e/month", "PFLOPS BF16", "PFLOPS/MW", "fabric Gbps/GPU", "notes"):
        table.add_column(column, justify="right" if column in numeric else "left")
    for q in quotes:
        fabric = "n/a" if q.fabric_gbps_per_gpu is None else f"{q.fabric_gbps_per_gpu:g}"
        notes = "; ".join(q.notes) if q.monthly_usd is not None else "; ".join([q.price_basis, *q.notes])
        as_of = (q.price_as_of or "undated") if q.monthly_usd is not None else ""
        table.add_row(q.cloud, q.region, q.instance_type, str(q.nodes), str(q.gpus), money(q.monthly_usd),
                      q.price_basis if q.monthly_usd is not None else "", as_of,
                      kw(q.facility_power_kw), num(q.co2e_t_month), num(q.pflops_bf16), num(q.pflops_per_mw), fabric, notes)
    out.print(table)


@catalog_app.command("list")
def catalog_list(
    cloud: CloudName | None = typer.Option(None, "--cloud"),
    gpu: str | None = typer.Option(None, "--gpu"),
    format: Format = typer.Option(Format.text, "--format", "-f"),
) -> None:
    """GPU instance types in the catalog."""
    from dataclasses import asdict

    from aifactory import catalog

    types = catalog.instances(cloud.value if cloud else None, gpu_model=gpu)
    if format is Format.json:
        print_json([asdict(t) for t in types])
        return
    from rich.table import Table

    table = Table(title_justify="left")
    for column in ("cloud", "instance type", "GPU", "GPUs", "GPU GiB", "fabric", "fabric ifaces", "fabric Gbps", "node W", "regions"):
        table.add_column(column)
    for t in types:
        table.add_row(t.cloud, t.name, t.gpu_model, str(t.gpu_count), _num(t.gpu_memory_gib), t.fabric,
                      _num(t.fabric_interfaces), _num(t.fabric_gbps), _num(t.node_power_w),
                      str(len(catalog.regions(t.cloud, t.name))))
    out.print(table)


@catalog_app.command("show")
def catalog_show(
    instance_type: str = typer.Argument(..., help="e.g. p5.48xlarge"),
    cloud: CloudName | None = typer.Option(None, "--cloud"),
    format: Format = typer.Option(Format.text, "--format", "-f"),
) -> None:
    """One instance type: its figures, regions, zones and prices, each with its source."""
    from dataclasses import asdict

    from aifactory import catalog

    matches = [t for t in catalog.instances(cloud.value if cloud else None) if t.name == instance_type]
    if not matches:
        err.print(f"'{instance_type}' is not in the catalog; see `aifactory catalog list`", markup=False)
        raise typer.Exit(2)
    itype = matches[0]
    offerings = catalog.offerings(itype.cloud, itype.name)
    prices = [p for p in catalog.prices(itype.cloud) if p.instance_type == itype.name]
    if format is Format.json:
        print_json({"instance": asdict(itype), "offerings": [asdict(o) for o in offerings],
                    "prices": [asdict(p) for p in prices]})
        return
    for key, value in asdict(itype).items():
        out.print(f"{key:>20}: {value if value not in (None, '') else 'n/a (no public source)'}", markup=False)
    out.print("regions:")
    for o in offerings:
        out.print(f"  {o.region}: zones {' '.join(o.zones) or 'unknown'}", markup=False)
    out.print("prices (USD per node-hour):")
    for p in prices:
        term = f" {p.term}" if p.term else ""
        held = f"valid from {p.valid_from}" if p.valid_from else "undated"
        out.print(f"  {p.region} {p.capacity}{term}: {p.usd_per_hour}  [{held}; {p.statistic or 'list'}; {p.source}]", markup=False)
    for reason in catalog.unpriced(itype.cloud):
        if reason.item.lower() == itype.name.lower():
            out.print(f"  {reason.region or 'every region'} {reason.capacity or 'any capacity'}: no price: {reason.reason}", markup=False)


@catalog_app.command("refresh")
def catalog_refresh(
    sources: list[Path] = typer.Option([], "--from", metavar="FILE|DIR", help="Saved feed files (or folders of them) to import."),
    online: bool = typer.Option(False, "--online", help="Download the feeds first (needs the network)."),
    data_dir: Path | None = typer.Option(None, "--catalog-dir", help="The catalog data folder to rewrite (default: the package's)."),
    cite: str | None = typer.Option(None, "--cite", help="Source to record on the imported rows instead of the feed's URL "
                                                         "(e.g. the repository, path and commit the saved file came from)."),
    retrieved: str | None = typer.Option(None, "--retrieved", metavar="YYYY-MM-DD", help="When the feeds were read (default: today)."),
    captured: str | None = typer.Option(None, "--captured", metavar="YYYY-MM-DD",
                                        help="When saved files that state no date (Azure API pages) were captured; "
                                             "their prices' valid_from (default: --retrieved)."),
    keep_missing: bool = typer.Option(False, "--keep-missing", help="Keep prices the feeds do not state "
                                      "(the saved files are a partial capture); add and update only."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the summary; write nothing."),
    format: Format = typer.Option(Format.text, "--format", "-f"),
) -> None:
    """Rebuild prices.csv from the clouds' public price feeds; print what moved (added, removed,
    changed by more than 5 %)."""
    import tempfile
    from datetime import date

    from aifactory.catalog import DATA_DIR
    from aifactory.catalog.importers import FeedError
    from aifactory.catalog.refresh import refresh

    problems = []
    if not sources and not online:
        problems.append("give --from FILE|DIR (saved feeds) or --online")
    for option, value in (("--retrieved", retrieved), ("--captured", captured)):
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                problems.append(f"{option}: '{value}' is not a date (YYYY-MM-DD)")
    target = data_dir or Path(DATA_DIR)
    if not (target / "prices.csv").is_file():
        problems.append(f"--catalog-dir: {target} has no prices.csv")
    if problems:
        for problem in problems:
            err.print(problem, markup=False)
        raise typer.Exit(2)
    paths = list(sources)
    if online:
        from aifactory import catalog
        from aifactory.catalog.importers.fetch import fetch_all

        folder = Path(tempfile.mkdtemp(prefix="aifactory-feeds-"))
        azure_skus = [t.name for t in catalog.instances("azure")]
        aws_regions = sorted({o for t in catalog.instances("aws") for o in catalog.regions("aws", t.name)})
        paths += fetch_all(folder, azure_skus=azure_skus, aws_regions=aws_regions)
    try:
        summary = refresh(paths, target, retrieved=retrieved, write=not dry_run, cite=cite, keep_missing=keep_missing, captured=captured)
    except FeedError as error:
        err.print(str(error), markup=False)
        raise typer.Exit(2) from None
    if format is Format.json:
        print_json(summary.to_json())
        return
    out.print(f"read {len(summary.feeds)} feed file(s): {'; '.join(summary.feeds)}", markup=False)
    out.print(f"{len(summary.added)} added, {len(summary.removed)} removed, {len(summary.changed)} changed by more than 5 %, "
              f"{summary.unchanged} within 5 %; {summary.skipped} feed rows skipped (type or region not in the catalog)"
              + (" [dry run: nothing written]" if dry_run else ""), markup=False)
    for title, changes in (("added", summary.added), ("removed", summary.removed), ("changed", summary.changed)):
        for c in changes:
            label = " ".join(x for x in c.key if x)
            if title == "changed":
                out.print(f"  changed {label}: {c.old:g} -> {c.new:g} ({c.pct:+.1f} %)", markup=False)
            else:
                out.print(f"  {title} {label}: {c.new if c.new is not None else c.old:g}", markup=False)


@catalog_app.command("check")
def catalog_check(
    max_age_days: int = typer.Option(90, "--max-age-days", min=0, help="A price older than this many days is stale."),
    today: str | None = typer.Option(None, "--today", metavar="YYYY-MM-DD", help="Judge freshness as of this date (default: today)."),
    format: Format = typer.Option(Format.text, "--format", "-f"),
) -> None:
    """Stale and undated prices, and every hole: an offered (type, region) pair with no on-demand
    price, or a storage SKU without a price, that states no reason."""
    from datetime import date

    from aifactory.catalog.check import check

    try:
        as_of = date.fromisoformat(today) if today else None
    except ValueError:
        err.print(f"--today: '{today}' is not a date (YYYY-MM-DD)", markup=False)
        raise typer.Exit(2) from None
    report = check(as_of, max_age_days)
    if format is Format.json:
        print_json(report.to_json())
        return
    out.print(f"catalog check as of {report.today}: {report.rows} price rows; {len(report.stale)} older than "
              f"{report.max_age_days} days, {len(report.undated)} without a valid_from date; {len(report.holes)} "
              f"holes without a stated reason; {len(report.explained)} unpriced with a stated reason", markup=False)
    for title, findings in (("holes (no price, no stated reason)", report.holes), ("stale", report.stale),
                            ("undated", report.undated), ("unpriced, with a stated reason", report.explained)):
        if not findings:
            continue
        out.print(f"{title}:", markup=False)
        for f in findings:
            where = " ".join(x for x in (f.cloud, f.item, f.region, f.capacity) if x)
            out.print(f"  {where}: {f.detail}", markup=False)


from aifactory import diffcmd  # noqa: E402  (adds the `diff` command)

diffcmd.register(app)

from aifactory import reportcmd  # noqa: E402  (adds the `report` command)

reportcmd.register(app)


def _num(value: float | int | None) -> str:
    return "n/a" if value is None else f"{value:g}"


class Interrupted(BaseException):
    """Ctrl-C. Raised instead of KeyboardInterrupt, which typer turns into "Aborted!" and exit 1 --
    and exit 1 means a mandatory policy violation."""


def _interrupted(signum: int, frame: object) -> None:
    raise Interrupted()


def _run() -> None:
    signal.signal(signal.SIGINT, _interrupted)
    try:
        app()  # usage errors exit 2 through typer; what it lets through is ours
    except SpecError as error:  # every command catches its own; this is the backstop
        try:
            refuse(error, "invalid input")
        except typer.Exit as done:
            sys.exit(done.exit_code)
    except (Interrupted, KeyboardInterrupt):
        sys.stderr.write("aifactory: interrupted\n")
        sys.exit(130)
    except Exception as error:  # a bug, not bad input: one line, the trace in a file, exit 3
        from aifactory import crash

        sys.stderr.write(crash.report(error) + "\n")
        sys.exit(crash.EXIT_CODE)


def _exit_code(exit: SystemExit) -> int:
    if exit.code is None or isinstance(exit.code, int):
        return exit.code or 0
    sys.stderr.write(f"{exit.code}\n")
    return 1


def main() -> None:
    """Run the command and leave without the interpreter's finalization: the Pulumi SDK leaves an
    event loop on each of its worker threads and gRPC channels open, and tearing those down takes
    longer than a preview's judging (0.4 s). By then every output is written, files are closed and
    the policy pack process is gone; only the standard streams need flushing."""
    try:
        _run()
        code = 0
    except SystemExit as exit:
        code = _exit_code(exit)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # a reader that went away, or a closed stream
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
