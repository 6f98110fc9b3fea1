"""Markdown tables: the one writer behind every table the commands and benchmarks print.

Cells arrive formatted (each table knows its own digits); this module only lays them out,
so a change of layout (escaping, alignment) happens in one place.
"""

from typing import Iterable, Sequence

# One separator cell per alignment letter: l(eft), r(ight), anything else the default.
_SEPARATORS = {"l": ":--", "r": "--:"}


def row(cells: Iterable) -> str:
  """One table line, `| a | b |`; each cell str()-ed, with `|` escaped so it stays one cell."""
  return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"


def header(columns: Sequence, align: str = "") -> str:
  """The column names and the separator line under them (two lines, no newline at the end).

  align: one letter per column, "l" or "r"; missing letters (or "-") leave a column to the
  reader's default.
  """
  separators = [_SEPARATORS.get(align[k] if k < len(align) else "-", "---")
                for k in range(len(columns))]
  return row(columns) + "\n|" + "|".join(separators) + "|"


def table(columns: Sequence, rows: Iterable[Iterable], align: str = "") -> str:
  """A whole table: header(columns, align), then one row() per item of `rows`."""
  return "\n".join([header(columns, align)] + [row(cells) for cells in rows])
