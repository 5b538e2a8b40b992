"""`aifactory report FILE`: the cost, power and policy report of what the real Pulumi CLI wrote.

FILE is `pulumi preview --json` output, `pulumi stack export` output, a state checkpoint or an
aifactory preview JSON (`-` reads standard input). Same policy config default, formats and exit
status as `aifactory preview`: 0 fine, 1 a mandatory violation, 2 bad input or usage.
"""

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the `report` command to the `aifactory` app."""
    from aifactory.cli import ReportFormat

    @app.command("report")
    def report_command(
        file: str = typer.Argument(
            ..., metavar="FILE",
            help="`pulumi preview --json` or `pulumi stack export` output, a checkpoint, or aifactory preview JSON; '-' for standard input.",
        ),
        policy_config: Path | None = typer.Option(
            None, "--policy-config",
            help="CrossGuard policy-pack config (default: policies/config/<team>.json for the team in the document's stack config, else default.json).",
        ),
        format: ReportFormat = typer.Option(ReportFormat.text, "--format", "-f"),
        output: Path | None = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout."),
    ) -> None:
        """Judge and estimate the resources of a real `pulumi preview --json`, stack export or checkpoint."""
        run(file, policy_config, format, output)


def run(file: str, policy_config: Path | None, format, output: Path | None) -> None:
    from aifactory.cli import ReportFormat, emit, out, progress, refuse, render_report
    from aifactory.enginereport import report
    from aifactory.problems import SpecError

    try:
        doc = report(file, policy_config, progress=progress)
    except SpecError as error:
        refuse(error, f"cannot report on {file}")
    if format is ReportFormat.text and output is None:
        from aifactory.report.text import render_preview

        out.print(render_preview(doc))
    else:
        emit(render_report(doc, format), output)
    if any(v["enforcement"] == "mandatory" for v in doc["policies"]["violations"]):
        raise typer.Exit(1)
