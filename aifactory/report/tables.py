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


def num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def energy_table(estimate: dict, title: str = "Energy, carbon and compute") -> Table:
    """Energy (facility kW x 730 h x load factor), location-based carbon (market-based where the cloud
    publishes a carbon-free share), dense peak PFLOPS and compute per watt of an estimate."""
    factor = estimate.get("load_factor")
    if factor is not None:
        title += f" (load factor {factor:g}" + (", an upper bound: node power is the datasheet maximum)" if factor == 1 else ")")
    table = Table(title=title, title_justify="left")
    columns = ("line", "MWh/month", "gCO2e/kWh", "tCO2e/month", "tCO2e market-based", "PFLOPS BF16", "PFLOPS FP8",
               "PFLOPS/MW", "$/PFLOP-hour")
    for column in columns:
        table.add_column(column, justify="left" if column == "line" else "right")
    for line in estimate["lines"]:
        if line["kind"] != "fleet":
            continue
        table.add_row(
            f"fleet {line['name']}", num(line.get("energy_mwh_month")), num(line.get("grid_gco2e_per_kwh")),
            num(line.get("co2e_t_month")), num(line.get("co2e_t_month_market_based")), num(line.get("pflops_bf16")),
            num(line.get("pflops_fp8")), num(line.get("pflops_per_mw")), num(line.get("usd_per_pflop_hour"), 2),
        )
    table.add_section()
    table.add_row(
        "total", num(estimate.get("energy_mwh_month")), "", num(estimate.get("co2e_t_month")),
        num(estimate.get("co2e_t_month_market_based")), num(estimate.get("pflops_bf16")), num(estimate.get("pflops_fp8")),
        num(estimate.get("pflops_per_mw")), num(estimate.get("usd_per_pflop_hour"), 2),
    )
    return table
