"""Terminal tables (rich) shared by the commands that print an estimate."""

from __future__ import annotations

from rich.table import Table

NUMERIC = ("nodes", "GPUs", "$/month", "IT kW", "facility kW")


def money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.0f}"


def kw(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


def node_count(item: dict) -> str:
    """Nodes of a line or total: `desired (max most)` when a group may scale beyond what it asks for."""
    most, desired = item.get("nodes") or 0, item.get("desired_nodes")
    if isinstance(desired, int) and desired != most:
        return f"{desired} (max {most})"
    return str(most)


def estimate_table(estimate: dict, title: str = "Estimate (730 h/month)") -> Table:
    """A table of an estimate as `Estimate.to_json()` gives it (the preview JSON's `estimate`)."""
    table = Table(title=title, title_justify="left")
    for column in ("line", "item", "nodes", "GPUs", "capacity", "$/month", "basis", "as of", "IT kW", "facility kW", "notes"):
        table.add_column(column, justify="right" if column in NUMERIC else "left")
    for line in estimate["lines"]:
        fleet = line["kind"] == "fleet"
        size = node_count(line) if fleet else f"{line['capacity_gib'] or 0:,} GiB"
        table.add_row(
            f"{line['kind']} {line['name']}",
            line["item"],
            size,
            str(line["gpus"]) if fleet else "",
            line["capacity"] or "",
            money(line["monthly_usd"]),
            line.get("price_basis") or "",
            (line.get("price_as_of") or "undated") if line["monthly_usd"] is not None else "",
            kw(line["it_power_kw"]),
            kw(line["facility_power_kw"]),
            "; ".join(line["notes"]),
        )
    table.add_section()
    table.add_row(
        "total", f"PUE {estimate['pue']}", node_count(estimate), str(estimate["gpus"]), "",
        money(estimate["monthly_usd"]), "", "", kw(estimate["it_power_kw"]), kw(estimate["facility_power_kw"]), "",
    )
    return table


def prices_as_of_text(estimate: dict) -> str:
    """When the list prices of an estimate held, and which org pricing it used."""
    as_of = estimate.get("prices_as_of")
    undated = estimate.get("undated_prices") or []
    pricing = estimate.get("pricing")
    text = f"list prices as of {as_of} (the oldest used)" if as_of else "no list price used states the date it held"
    if undated and as_of:
        text += f"; undated source for {', '.join(undated)}"
    return text + (f"; org pricing {pricing}" if pricing else "")
