"""Progress of a run, in a terminal as a progress bar on stderr and in a notebook as a live
display, in tqdm's manner: from ``job.metrics()`` polled a few times a second (never per
record). ``progress=None`` shows it once a run has taken more than a second (in a terminal
only when stderr is one), ``True`` from the start, ``False`` never. Ctrl-C (or the kernel's
interrupt) stops the run."""
from __future__ import annotations

import datetime
import html
import sys
import time

from ._explain import format_bytes

AUTO_DELAY_S = 1.0  # a run shorter than this shows nothing (progress=None)
INTERVAL_S = 0.25   # between two updates


class Snapshot:
    """What a progress display shows at one moment, from the run's metrics."""

    def __init__(self, metrics: list, plan_nodes: list, source_infos: dict, elapsed_s: float):
        self.elapsed_s = elapsed_s
        self.rows = self.bytes = self.state_entries = 0
        self.total_rows = self.total_bytes = 0
        fractions, watermarks = [], []
        for entry, node in zip(metrics, plan_nodes):
            self.state_entries += entry["state_entries"]
            if node["op"] in ("watermark", "explicit_watermark") and entry.get("watermark_ms") is not None:
                watermarks.append(entry["watermark_ms"])
            if node["op"] != "source":
                continue
            rows = entry["rows_out"] + entry["rows_skipped"] + entry["rows_dead_letter"]
            self.rows += rows
            self.bytes += entry["bytes_read"]
            info = source_infos.get(node["id"])
            if info is not None and info.total_bytes:
                self.total_bytes += info.total_bytes
                # bytes a source skipped unread (pushdown) are as far through the input as read ones
                passed = entry["bytes_read"] + entry.get("bytes_pruned", 0)
                fractions.append(min(1.0, passed / info.total_bytes))
            elif info is not None and info.total_rows:
                self.total_rows += info.total_rows
                fractions.append(min(1.0, rows / info.total_rows))
            else:
                fractions.append(None)
        # Known only when every source's total is known (each source weighs the same).
        self.fraction = (sum(fractions) / len(fractions)
                         if fractions and None not in fractions else None)
        self.watermark_ms = min(watermarks) if watermarks else None

    def parts(self) -> list[str]:
        """The display's pieces of text: counts, rate, watermark, state."""
        rows = _count(self.rows) + (f"/{_count(self.total_rows)}" if self.total_rows else "") + " rows"
        amounts = [rows]
        if self.bytes or self.total_bytes:
            amounts.append(format_bytes(self.bytes) +
                           (f"/{format_bytes(self.total_bytes)}" if self.total_bytes else ""))
        rate = self.rows / self.elapsed_s if self.elapsed_s > 0 else 0.0
        timing = _clock(self.elapsed_s)
        if self.fraction and 0 < self.fraction < 1:
            timing += "<" + _clock(self.elapsed_s * (1 - self.fraction) / self.fraction)
        parts = [", ".join(amounts), f"[{timing}, {_count(rate)} rows/s]"]
        if self.watermark_ms is not None:
            parts.append(f"watermark {_time_text(self.watermark_ms)}")
        parts.append(f"state {_count(self.state_entries)} entries")
        return parts


def _count(value: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.2f}{unit}"
    return f"{value:.0f}"


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes:02d}:{seconds:02d}"


def _time_text(time_ms: int) -> str:
    try:
        moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=time_ms)
    except OverflowError:
        return str(time_ms)
    return moment.isoformat(timespec="milliseconds").replace(".000", "")


class TerminalBar:
    """One line on stderr, rewritten in place (``\\r``), as tqdm's; ``update(final=status)``
    ends it with the run's status."""

    WIDTH = 20

    def __init__(self, stream):
        self._stream = stream

    def update(self, snapshot: Snapshot, final: str | None = None) -> None:
        if snapshot.fraction is not None:
            filled = snapshot.fraction * self.WIDTH
            bar = "\u2588" * int(filled)
            if int(filled) < self.WIDTH:
                bar += " \u258f\u258e\u258d\u258c\u258b\u258a\u2589"[int((filled % 1) * 8)]
            head = f"millstream: {snapshot.fraction * 100:3.0f}%|{bar.ljust(self.WIDTH)}| "
        else:
            head = "millstream: "
        tail = f" ({final})\n" if final else ""
        self._stream.write("\r" + head + " ".join(snapshot.parts()) + tail)
        self._stream.flush()


class NotebookDisplay:
    """A display that updates in place in a notebook (IPython's display_id)."""

    def __init__(self):
        from IPython.display import HTML, display
        self._html = HTML
        self._handle = display(HTML("<div>millstream: starting</div>"), display_id=True)

    def update(self, snapshot: Snapshot, final: str | None = None) -> None:
        bar = (f"<progress value='{snapshot.fraction:.4f}' max='1' style='width: 16em'></progress> "
               f"{snapshot.fraction * 100:.0f}% " if snapshot.fraction is not None else "")
        state = final or "running"
        self._handle.update(self._html(
            f"<div class='millstream-progress' data-state='{state}' style='font-family: "
            f"var(--jp-code-font-family, monospace); font-size: 12px'>millstream {state}: {bar}"
            f"{html.escape(' '.join(snapshot.parts()))}</div>"))


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (as tqdm.auto decides)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _make_display(progress):
    if in_notebook():
        return NotebookDisplay()
    if progress is True or sys.stderr.isatty():
        return TerminalBar(sys.stderr)
    return None


def wait(job, plan_nodes: list, source_infos: dict, progress=None) -> None:
    """Waits for ``job`` to end, showing its progress (see the module's docstring). Ctrl-C
    between two polls stops the run too, and raises KeyboardInterrupt."""
    if progress not in (None, True, False):
        raise ValueError(f"progress must be None (automatic), True or False, got {progress!r}")
    if progress is False:
        job.wait()
        return
    started = time.monotonic()
    delay_s = 0.0 if progress is True else AUTO_DELAY_S
    display = None
    try:
        while not job.wait(timeout=max(0.01, (started + delay_s - time.monotonic())
                                       if display is None else INTERVAL_S)):
            if display is None:
                display = _make_display(progress) or _NoDisplay()
            display.update(Snapshot(job.metrics(), plan_nodes, source_infos,
                                    time.monotonic() - started))
    except KeyboardInterrupt:
        job.stop()
        raise
    finally:
        if display is not None and job.done():
            display.update(Snapshot(job.metrics(), plan_nodes, source_infos,
                                    time.monotonic() - started), final=job.status)
    if display is None and progress is True:
        # A run that ended before the first poll still shows its last state.
        (_make_display(progress) or _NoDisplay()).update(
            Snapshot(job.metrics(), plan_nodes, source_infos, time.monotonic() - started),
            final=job.status)


class _NoDisplay:
    def update(self, snapshot: Snapshot, final: str | None = None) -> None:
        pass
