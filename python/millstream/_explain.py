"""How a pipeline shows itself: the plan as a small graph of operators, with their parallelism,
output columns and what each source reads; as text (``explain()``, ``repr``) and as HTML in
notebooks (``_repr_html_``)."""
from __future__ import annotations

import html
from dataclasses import dataclass

from . import _pushdown

# What each op is called in the display.
_KIND = {"source": "source", "filter": "filter", "project": "project", "map_batches": "map_batches",
         "union": "union", "watermark": "watermark", "explicit_watermark": "watermark",
         "window": "window", "running_agg": "running aggregation", "join": "interval join",
         "port": "side output", "sink": "sink"}


@dataclass
class PlanStep:
    """One operator of a displayed plan."""

    node_id: int
    op: str
    label: str
    inputs: list
    parallelism: str  # e.g. "2 subtasks by user", "fused into its input", "1 split"
    columns: list     # [(name, type as text)]
    reads: str | None  # sources: what they read


def plan_steps(pipeline, node_ids) -> list[PlanStep]:
    """The steps of the plan of these nodes (and their ancestors), inputs first."""
    steps = []
    ids = sorted(pipeline._ancestors(node_ids))
    pushed, filters = {}, {}
    if _pushdown.enabled():
        nodes = [pipeline._nodes[i] for i in ids]
        pushed = _pushdown.source_columns(nodes, pipeline._output_names(ids), pipeline._narrowable)
        filters = _pushdown.pushed_filters(nodes, pipeline._filterable & set(ids))
    for node_id in ids:
        node = pipeline._nodes[node_id]
        schema = pipeline._schemas[node_id][0]
        source = pipeline._source_info.get(node_id)
        reads = source.reads if source else None
        if node_id in pushed and len(pushed[node_id]) < len(schema):
            reads = f"{reads}: only {', '.join(pushed[node_id])} of {len(schema)} columns"
        if node_id in filters:
            reads = f"{reads}; skips the row groups whose statistics rule out the filter after it"
        steps.append(PlanStep(
            node_id=node_id, op=node["op"], label=node["label"], inputs=list(node["inputs"]),
            parallelism=_parallelism(pipeline, node, source),
            columns=[(field.name, str(field.type)) for field in schema],
            reads=reads))
    return steps


def _parallelism(pipeline, node: dict, source) -> str:
    op = node["op"]
    if op == "source":
        return source.splits if source else f"up to {pipeline.parallelism} splits"
    if op in ("window", "running_agg"):
        if not node["keys"]:
            return "1 subtask (one global key)"
        return f"{pipeline.parallelism} subtask{'s' if pipeline.parallelism > 1 else ''} " \
               f"by {', '.join(node['keys'])}"
    if op == "join":
        return f"{pipeline.parallelism} subtask{'s' if pipeline.parallelism > 1 else ''} " \
               f"by {', '.join(node['left_keys'])} = {', '.join(node['right_keys'])}"
    if op == "sink":
        return "1"
    return "fused into its input"


def explain_text(title: str, steps: list[PlanStep]) -> str:
    """The plan as text, inputs first: per operator a line with its id, kind and label (and
    ``<- #i`` when its inputs are not the operator above), one with its parallelism and what
    it reads, one with its output columns (``Stream.explain`` shows an example)."""
    lines = [title]
    previous = None
    for step in steps:
        arrow = "" if step.inputs in ([], [previous]) else \
            f"  <- {', '.join(f'#{i}' for i in step.inputs)}"
        lines.append(f"  #{step.node_id} {_KIND[step.op]}: {step.label}{arrow}")
        detail = f"      [{step.parallelism}]"
        if step.reads:
            detail += f" reads {step.reads}"
        lines.append(detail)
        lines.append("      -> " + ", ".join(f"{name}: {kind}" for name, kind in step.columns))
        previous = step.node_id
    return "\n".join(lines)


_STYLE = ("font-family: var(--jp-code-font-family, monospace); font-size: 12px; "
          "border-left: 3px solid {color}; padding: 3px 8px; margin: 2px 0 2px 0; "
          "background: rgba(127,127,127,0.06)")
_COLORS = {"source": "#2a7ab0", "sink": "#7a52a0", "window": "#c0392b",
           "running_agg": "#c0392b", "join": "#c0392b", "watermark": "#d68910", "explicit_watermark": "#d68910"}


def explain_html(title: str, steps: list[PlanStep]) -> str:
    """The plan as HTML: a box per operator, top to bottom, each with its parallelism and its
    output columns; an arrow names the inputs where they are not the box above."""
    parts = [f"<div><div style='font-weight: bold; margin-bottom: 4px'>{html.escape(title)}</div>"]
    previous = None
    for step in steps:
        if step.inputs not in ([], [previous]):
            parts.append("<div style='font-size: 11px; color: gray'>&#8595; from "
                         f"{', '.join(f'#{i}' for i in step.inputs)}</div>")
        elif previous is not None:
            parts.append("<div style='font-size: 11px; color: gray'>&#8595;</div>")
        color = _COLORS.get(step.op, "#5d6d7e")
        columns = ", ".join(f"{html.escape(name)}: <i>{html.escape(kind)}</i>"
                            for name, kind in step.columns)
        reads = f" &middot; reads {html.escape(step.reads)}" if step.reads else ""
        parts.append(
            f"<div style='{_STYLE.format(color=color)}'>"
            f"<b>#{step.node_id} {html.escape(_KIND[step.op])}</b> {html.escape(step.label)}"
            f"<span style='color: gray'> &middot; {html.escape(step.parallelism)}{reads}</span>"
            f"<div style='color: gray'>&rarr; {columns}</div></div>")
        previous = step.node_id
    parts.append("</div>")
    return "".join(parts)


@dataclass
class SourceInfo:
    """What a source reads, as the plan display and the progress display show it."""

    reads: str                    # e.g. "2 files, 104.0 MB" or "10,000 rows in memory"
    splits: str                   # e.g. "up to 4 splits", "1 split", "a split per partition"
    total_rows: int | None = None   # known for in-memory input
    total_bytes: int | None = None  # known for files


def in_memory_info(rows: int | None, splits: str) -> SourceInfo:
    if rows is None:
        return SourceInfo("an Arrow stream", splits)
    return SourceInfo(f"{rows:,} row{'s' if rows != 1 else ''} in memory", splits, total_rows=rows)


def files_info(path, splits: str) -> SourceInfo:
    """The files a path or glob names, and their size (as when the source is declared)."""
    import glob
    import os
    path = os.fspath(path)
    names = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
    files = []
    for name in names:
        if os.path.isdir(name):
            files += [os.path.join(root, f) for root, _, fs in os.walk(name) for f in fs]
        else:
            files.append(name)
    try:
        total = sum(os.path.getsize(f) for f in files)
    except OSError:
        return SourceInfo(path, splits)
    count = f"{len(files)} file{'s' if len(files) != 1 else ''}"
    return SourceInfo(f"{path} ({count}, {format_bytes(total)})", splits, total_bytes=total)


def format_bytes(count: float) -> str:
    """``1.5 MB``: powers of 1024, as the README's state_memory."""
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"
