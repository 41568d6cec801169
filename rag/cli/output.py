"""What the commands print: the two consoles, answers and citations, index build reports and progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape

from rag.progress import Rate
from rag.store import BuildReport
from rag.types import Answer

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


def note(message: str) -> None:
    err.print(f"note: {escape(message)}", soft_wrap=True)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def where(title: str, section: str) -> str:
    """A citation's heading, "Title — Section": the title alone before the first heading, or under a
    heading that repeats the title (many articles open with their headline as a heading)."""
    if not section or section.strip().casefold() == title.strip().casefold():
        return title
    return f"{title} — {section}"


def print_answer(ans: Answer) -> None:
    if ans.answer is None:
        out.print(
            "[bold yellow]The corpus does not say.[/]" + (" Closest passages:" if ans.citations else " (The index holds no passages.)")
        )
    else:
        out.print(f"[bold green]{escape(ans.answer)}[/]")
    for i, c in enumerate(ans.citations, 1):
        snippet = c.text
        if ans.answer_span and ans.answer_span.doc_id == c.doc_id and c.start <= ans.answer_span.start and ans.answer_span.end <= c.end:
            a, b = ans.answer_span.start - c.start, ans.answer_span.end - c.start
            snippet = f"{escape(snippet[:a])}[reverse]{escape(snippet[a:b])}[/reverse]{escape(snippet[b:])}"
        else:
            snippet = escape(snippet)
        if len(c.text) > 600 and "[reverse]" not in snippet:
            snippet = escape(c.text[:600]) + "…"
        out.print(f"\n[bold][{i}][/] {escape(where(c.title, c.section))}  [dim]{c.doc_id}:{c.start}-{c.end} score {c.score:.4f}[/]")
        out.print(snippet)


def print_report(report: BuildReport, index_dir: object) -> None:
    # why every document is embedded again was said before the work (open_index's notify)
    again = f" ({len(report.reembedded)} of them embedded again)" if report.reembedded else ""
    err.print(
        f"indexed into {escape(str(index_dir))}: {len(report.added)} new, {len(report.changed)} changed, {len(report.removed)} removed, "
        f"{len(report.unchanged) + len(report.reembedded)} unchanged documents{again}; {plural(report.chunks, 'chunk')}, "
        f"{plural(report.candidates, 'answer candidate')}, {report.embedded_texts} texts embedded in {report.seconds:.1f}s",
        soft_wrap=True,
    )
    if report.empty:
        names = ", ".join(report.empty[:5]) + (f" and {len(report.empty) - 5} more" if len(report.empty) > 5 else "")
        err.print(
            f"note: {len(report.empty)} document{'s' if len(report.empty) > 1 else ''} with nothing to index "
            f"(empty, or only web boilerplate): {escape(names)}",
            soft_wrap=True,
        )


def progress_bar() -> tuple[Any, Callable[[str, int, int], None]]:
    """A rich progress callback for index builds (on stderr, so stdout stays parseable)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )  # a transient bar shows nothing in a log but leaves an empty line
    tasks: dict[str, Any] = {}
    names = {"chunk": "chunking", "embed": "embedding", "write": "writing"}
    units = {"chunk": "documents", "embed": "texts"}
    logged: dict[str, float] = {}  # stage -> when it was last reported, without a terminal
    rates: dict[str, Rate] = {}

    def log(stage: str, done: int, total: int) -> None:
        # In a log (CI, docker, a pipe) a first build would otherwise be silent for up to minutes:
        # a line when a stage starts, then one every 30 s with the rate and the time left.
        unit = units.get(stage)
        if unit and total == 1:
            unit = unit[:-1]
        described = rates.setdefault(stage, Rate()).describe(done, total, unit or "steps")
        now = time.monotonic()
        if stage in logged and now - logged[stage] < 30:
            return
        first = stage not in logged
        logged[stage] = now
        if first:
            err.print(f"indexing: {names.get(stage, stage)}" + (f" {total} {unit}" if unit else ""), soft_wrap=True)
        elif unit:
            err.print(f"indexing: {names.get(stage, stage)} {described}", soft_wrap=True)

    def update(stage: str, done: int, total: int) -> None:
        if not err.is_terminal:
            log(stage, done, total)
            return
        if not bar.live.is_started:
            bar.start()
        if stage not in tasks:
            tasks[stage] = bar.add_task(names.get(stage, stage), total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return bar, update
