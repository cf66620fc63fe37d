"""Console tables (rich): one helper so every command prints the same aligned style."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]], console: Console | None = None) -> None:
    """Print an aligned table; the first column left-aligned, the others right-aligned."""
    table = Table(title=title, title_justify="left", header_style="bold")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in rows:
        table.add_row(*row)
    if console is None:
        # Piped or captured output gets a console as wide as the table (at least 160 columns), so that no
        # cell is wrapped or cut to "…" however many columns it has.
        console = Console()
        if not console.is_terminal:
            natural = Measurement.get(console, console.options.update_width(100_000), table).maximum
            console = Console(width=max(160, natural))
    console.print(table)


def percent(x: float | None, digits: int = 2) -> str:
    """``0.1234 -> '12.34%'``; missing values print as '-'."""
    return "-" if x is None or x != x else f"{100 * x:.{digits}f}%"


def seconds(x: float | None) -> str:
    """``0.1234 -> '0.123 s'``; missing values print as '-'."""
    return "-" if x is None or x != x else f"{x:.3f} s"
