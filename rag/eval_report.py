"""Evaluation reports: one set's report (markdown, results, chart) and the overview page of every set."""

from __future__ import annotations

import json
from pathlib import Path

from rag.eval_sets import Registry
from rag.evaluation import Outcome

HEADLINE = [
    "overall_accuracy",
    "no_answer_auroc",
    "answer_accuracy",
    "hit@1",
    "hit@5",
    "mrr@5",
    "hit@1000c",
    "citation_correct",
    "abstention",
    "false_abstention",
    "mean_answer_chars",
    "latency_p50_ms",
    "latency_p95_ms",
]


def fmt(v: object) -> str:
    return "—" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def md_table(rows: dict[str, dict], cols: list[str], first: str = "run") -> str:
    lines = [f"| {first} | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, s in rows.items():
        lines.append(f"| {name} | " + " | ".join(fmt(s.get(c)) for c in cols) + " |")
    return "\n".join(lines)


def chart(types_by_run: dict[str, dict[str, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    runs = list(types_by_run)
    types = sorted({t for r in types_by_run.values() for t in r})
    x = np.arange(len(types))
    w = 0.8 / max(len(runs), 1)
    fig, ax = plt.subplots(figsize=(max(7, len(types) * 1.2), 4))
    for i, r in enumerate(runs):
        ax.bar(x + i * w, [types_by_run[r].get(t, {}).get("accuracy", 0) for t in types], w, label=r)
    ax.set_xticks(x + w * (len(runs) - 1) / 2, types, rotation=20)
    ax.set_ylabel("answer accuracy (abstention for unanswerable)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Accuracy per question type")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def type_rows(types: dict[str, dict[str, dict]]) -> dict[str, dict]:
    return {f"{r} / {t}": {"n": v["n"], "accuracy": v["accuracy"], "hit@5": v["hit@5"]} for r, tv in types.items() for t, v in tv.items()}


def write_set_report(
    title: str,
    n_questions: int,
    k: int,
    outcomes: list[Outcome],
    summaries: dict[str, dict],
    types: dict[str, dict[str, dict]],
    out_dir: Path,
) -> Path:
    """report.md, results.jsonl (the first run's answers), summary.json and the chart, in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "results.jsonl").open("w", encoding="utf-8") as fh:
        for o in outcomes:
            fh.write(json.dumps(o.to_dict(), ensure_ascii=False) + "\n")
    (out_dir / "summary.json").write_text(json.dumps({"summary": summaries, "by_type": types}, indent=2) + "\n")
    chart(types, out_dir / "accuracy_by_type.png")
    report = [
        f"# Evaluation: {title}",
        "",
        f"{n_questions} questions; k = {k}.",
        "",
        "## Summary",
        "",
        md_table(summaries, HEADLINE),
        "",
        "## Per question type",
        "",
        md_table(type_rows(types), ["n", "accuracy", "hit@5"]),
        "",
        "Accuracy for `unanswerable` is the share abstained.",
        "",
        "![accuracy per type](accuracy_by_type.png)",
        "",
    ]
    path = out_dir / "report.md"
    path.write_text("\n".join(report))
    return path


OVERVIEW_COLUMNS = [
    ("questions", "n"),
    ("answer_accuracy", "answer acc."),
    ("hit@5", "hit@5"),
    ("hit@1000c", "hit in 1,000 chars"),
    ("abstention", "abstention"),
    ("false_abstention", "false abst."),
    ("no_answer_auroc", "no-answer AUROC"),
    ("latency_p50_ms", "p50 ms"),
]


def _ms(v) -> str:
    return "—" if v is None else f"{v:.1f}"


def overview(rows: list[dict], pooled: dict[str, dict], host: str, date: str) -> str:
    """eval/README.md: every set's figures with and without the reader, and the gate's pooled figures."""
    head = ["set", "corpus", "status"] + [label for _, label in OVERVIEW_COLUMNS] + ["answer acc. / abstention without the reader"]
    lines = [
        "# How good it is",
        "",
        f"Every evaluation set (`eval/sets/sets.toml`, described in `eval/sets/README.md`), run by `rag eval --all` "
        f"on {date} on {host}. Answer accuracy counts answerable questions whose answer (at most 300 characters) "
        'contains a gold string; abstention is the share of unanswerable questions answered "the corpus does not say"; '
        "a conversation set scores its last turn. Each set's report, per question type, is in `eval/reports/<set>/`.",
        "",
        "| " + " | ".join(head) + " |",
        "|---|---|---|" + "---:|" * (len(head) - 3),
    ]
    for r in rows:
        s, bare = r["summary"], r.get("without_reader") or {}
        cells = [f"[{r['name']}](reports/{r['name']}/report.md)", r["corpus"], r["status"]]
        cells += [_ms(s.get(key)) if key.endswith("_ms") else fmt(s.get(key)) for key, _ in OVERVIEW_COLUMNS]
        cells.append(f"{fmt(bare.get('answer_accuracy'))} / {fmt(bare.get('abstention'))}" if bare else "—")
        lines.append("| " + " | ".join(cells) + " |")
    if pooled:
        lines += [
            "",
            "Pooled (every question of the sets named counts once):",
            "",
            md_table(pooled, [key for key, _ in OVERVIEW_COLUMNS[:-1]], first="pool"),
        ]
    return "\n".join(lines) + "\n"


def sets_page(registry: Registry) -> str:
    """eval/sets/README.md: every set, who wrote it, its size and types, and whether anything was tuned on it."""
    from collections import Counter

    from rag.eval_sets import set_size_and_types

    lines = [
        "# Evaluation sets",
        "",
        "Listed in `sets.toml` (the registry `rag eval --all` reads). Status: **tuning**, rules and thresholds were",
        "chosen on it; **development**, its failures were read or changes decided on it; **held-out**, run on",
        "changes but its failures never read; **unseen**, run once before any change was measured on it.",
        '"First figures" are a set\'s answer accuracy / abstention (at false abstention) on its first, unseen run.',
        "",
        "| set | corpus | written by | size | types | status | gated | first figures |",
        "|---|---|---|---:|---|---|---|---|",
    ]
    for s in registry.sets:
        size, types = set_size_and_types(registry, s)
        counts = ", ".join(f"{t} {n}" for t, n in Counter(types).most_common()) if types else "—"
        lines.append(
            f"| {s.name} | {s.corpus} | {s.written} | {size if size is not None else '—'} | {counts} | {s.status} | "
            f"{'yes' if s.gate else 'no'} | {s.first or '—'} |"
        )
    return "\n".join(lines) + "\n"
