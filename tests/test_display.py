"""Console tables and number formats (`diarefine.display`)."""

from __future__ import annotations

from diarefine.display import percent, print_table, seconds


def test_a_piped_table_keeps_every_cell_whole_however_wide(capsys) -> None:
    cell = "12.34% / 56.78% [-38, +13]"
    print_table("wide", ["refiner", *(f"file{i:02d}" for i in range(12))], [["a long refiner name + shapes", *[cell] * 12]])
    out = capsys.readouterr().out  # captured: not a terminal
    body = [line for line in out.splitlines() if "a long refiner name" in line]
    assert len(body) == 1 and body[0].count(cell) == 12 and "…" not in out


def test_missing_values_print_as_a_dash() -> None:
    assert percent(0.1234) == "12.34%" and percent(None) == "-" and percent(float("nan")) == "-"
    assert seconds(0.1234) == "0.123 s" and seconds(None) == "-"
