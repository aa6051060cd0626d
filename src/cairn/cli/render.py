"""How the CLI draws things in the terminal (rich), kept apart from what it runs.

Everything here fits an 80-column terminal and reads the same when the output
is captured (no colours, no cursor movement, nothing that needs a TTY).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from rich.columns import Columns
from rich.console import Console
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from cairn.cli.steps import StepEvent, checkpoint_id
from cairn.types import StateSnapshot


def short_id(checkpoint: str) -> str:
    """The random tail of a checkpoint id: its time-ordered head is nearly the
    same for every checkpoint of a run, so it tells them apart poorly."""
    return checkpoint[-8:] if checkpoint else "-"


def heading(console: Console, title: str, subtitle: str = "") -> None:
    """A section rule: 'Day 1 · start the project'."""
    console.print()
    console.print(Rule(Text(title, style="bold"), align="left", style="dim"))
    if subtitle:
        console.print(Text(subtitle, style="dim"))


def step_line(console: Console, event: StepEvent) -> None:
    """One committed super-step: number, node, what it did, checkpoint."""
    nodes = ", ".join(event.nodes) or event.source
    line = Text("  ")
    line.append(f"step {event.step:>2}", style="bold cyan")
    line.append(f"  {nodes:<10} ", style="bold")
    # Padding the summary lines the checkpoint ids up in a column.
    line.append(f"{event.summary:<40}")
    line.append(f"  ckpt {short_id(event.checkpoint_id)}", style="dim")
    console.print(line, overflow="fold")


def note(console: Console, message: str, style: str = "") -> None:
    """An indented line of commentary."""
    console.print(Text("  " + message, style=style), overflow="fold")


def fields(console: Console, rows: Sequence[tuple[str, str]]) -> None:
    """Aligned 'label  value' lines."""
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        text = Text.assemble("  ", (f"{label:<{width}}", "dim"), "  ", value)
        console.print(text, overflow="fold")


def history_table(
    snapshots: Sequence[StateSnapshot], branches: Mapping[str, str] | None = None
) -> Table:
    """The thread's checkpoints, newest first, as get_state_history gives them.

    ``branches`` maps checkpoint ids to a branch label; without it the
    column is left out.
    """
    table = Table()
    table.add_column("step", justify="right")
    table.add_column("day", justify="right")
    table.add_column("source")
    table.add_column("written by")
    table.add_column("next")
    table.add_column("checkpoint")
    if branches is not None:
        table.add_column("branch")
    for snapshot in snapshots:
        metadata = snapshot.metadata or {}
        cid = checkpoint_id(snapshot.config)
        row = [
            str(metadata.get("step", "?")),
            str(metadata.get("day", "")),
            str(metadata.get("source", "?")),
            ", ".join(metadata.get("writes") or ()) or "-",
            ", ".join(snapshot.next) or "-",
            short_id(cid),
        ]
        if branches is not None:
            row.append(branches.get(cid, ""))
        table.add_row(*row)
    return table


def reports_side_by_side(reports: Iterable[tuple[str, str]]) -> Columns:
    """Final reports in panels next to each other (stacked when too narrow)."""
    panels = [
        Panel(Text(body), title=title, title_align="left", width=38) for title, body in reports
    ]
    return Columns(panels, padding=(0, 1))
