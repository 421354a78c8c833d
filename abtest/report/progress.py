"""Live progress of a batch on the terminal (tqdm): reports done, and per running report its
current section, cell and elapsed time.

One tqdm bar counts finished reports; under it one status line per running report, e.g.
``offer_test · Results by segment · cell 7/21 · 12 s``, refreshed four times a second. Finished
reports are printed above the bars as one line each (the same lines ``--quiet`` suppresses and
non-terminal output gets without the live part). The live part is drawn only on a terminal.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

__all__ = ["Progress"]


@dataclass
class _Running:
    name: str
    started: float = field(default_factory=time.monotonic)
    cell: int | None = None
    cells: int | None = None
    section: str = ""


class Progress:
    """Progress of one batch; ``emit`` gets the one-line messages, ``live`` draws tqdm bars."""

    def __init__(
        self,
        total: int,
        *,
        emit: Callable[[str], None],
        live: bool,
        stream: TextIO | None = None,
    ) -> None:
        self.total = total
        self.emit_line = emit
        self.running: dict[str, _Running] = {}
        self._bar: Any = None
        self._lines: list[Any] = []
        self._last = 0.0
        if live:
            from tqdm import tqdm

            self._tqdm = tqdm
            self._stream = stream or sys.stderr
            self._bar = tqdm(total=total, desc="reports", unit="report", file=self._stream,
                             dynamic_ncols=True, leave=False,
                             bar_format="{desc} {n_fmt}/{total_fmt} |{bar}| {elapsed}")

    def message(self, line: str) -> None:
        """Print a line above the live bars (or plainly when there are none)."""
        if self._bar is not None:
            self._tqdm.write(line, file=self._stream)
        else:
            self.emit_line(line)

    def started(self, stem: str, name: str, cells: int | None = None) -> None:
        """A report was handed to a worker."""
        self.running[stem] = _Running(name, cells=cells)

    def cell(self, stem: str, index: int, section: str) -> None:
        """A worker reached cell ``index`` (0-based) under heading ``section``."""
        run = self.running.get(stem)
        if run is not None:
            run.cell, run.section = index, section

    def finished(self, stem: str, line: str) -> None:
        """A report finished (ok, failed or reused from the cache)."""
        self.running.pop(stem, None)
        self.message(line)
        if self._bar is not None:
            self._bar.update(1)
        self.tick(force=True)

    def tick(self, force: bool = False) -> None:
        """Redraw the status lines (at most four times a second)."""
        if self._bar is None:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.25:
            return
        self._last = now
        rows = [self._describe(r, now) for r in self.running.values()]
        while len(self._lines) < len(rows):
            self._lines.append(self._tqdm(total=0, position=len(self._lines) + 1, file=self._stream,
                                          bar_format="{desc}", dynamic_ncols=True, leave=False))
        for i, bar in enumerate(self._lines):
            bar.set_description_str(rows[i] if i < len(rows) else "", refresh=True)
        self._bar.refresh()

    @staticmethod
    def _describe(run: _Running, now: float) -> str:
        parts = [f"  {run.name}"]
        if run.section:
            parts.append(run.section[:60])
        if run.cell is not None:
            parts.append(f"cell {run.cell + 1}" + (f"/{run.cells}" if run.cells else ""))
        else:
            parts.append("starting kernel")
        parts.append(f"{now - run.started:.0f} s")
        return " · ".join(parts)

    def close(self) -> None:
        """Remove the live bars from the terminal."""
        for bar in self._lines:
            bar.close()
        if self._bar is not None:
            self._bar.close()
        self._lines, self._bar = [], None
