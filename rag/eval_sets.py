"""The registry of evaluation sets (``eval/sets/sets.toml``): each set's file, corpus, kind and status."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InvalidInputError
from rag.evaluation import Question, load_questions

KINDS = ("qa", "conversation")
STATUSES = ("tuning", "development", "held-out", "unseen")


@dataclass(frozen=True)
class EvalSet:
    name: str
    file: Path
    corpus: str  # a key of Registry.corpora
    kind: str  # "qa" | "conversation"
    status: str
    gate: bool  # pooled into `rag eval --all --check`
    written: str  # who wrote it, and how
    first: str = ""  # the first figures it gave, unseen
    split: str = ""  # only the questions of these articles of eval/sets/squad2_split.json
    external: bool = False  # its data lives outside the repository (SQuAD): run with --external


@dataclass(frozen=True)
class Registry:
    corpora: dict[str, Path]
    sets: tuple[EvalSet, ...]
    folder: Path  # where the registry lives, with the split file and the sets' README

    @property
    def split_file(self) -> Path:
        return self.folder / "squad2_split.json"

    def select(self, names: list[str] | None = None, external: bool = False) -> list[EvalSet]:
        if names:
            known = {s.name: s for s in self.sets}
            unknown = [n for n in names if n not in known]
            if unknown:
                raise InvalidInputError(f"no evaluation set {unknown[0]!r}; the sets are {', '.join(known)}")
            return [known[n] for n in names]
        return [s for s in self.sets if external or not s.external]

    def corpus(self, s: EvalSet) -> Path:
        return self.corpora[s.corpus]


def load_registry(path: str | Path = "eval/sets/sets.toml") -> Registry:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"no evaluation registry at {p}") from None
    except tomllib.TOMLDecodeError as e:
        raise InvalidInputError(f"{p}: {e}") from None
    corpora = {k: Path(v) for k, v in data.get("corpora", {}).items()}
    sets = []
    for n, raw in enumerate(data.get("set", []), 1):
        try:
            s = EvalSet(**{**raw, "file": Path(raw["file"])})
        except (TypeError, KeyError) as e:
            raise InvalidInputError(f"{p}: set {n} is not a set record ({e})") from None
        if s.corpus not in corpora or s.kind not in KINDS or s.status not in STATUSES:
            raise InvalidInputError(f"{p}: set {s.name!r} names an unknown corpus, kind or status")
        sets.append(s)
    return Registry(corpora, tuple(sets), p.parent)


def set_questions(registry: Registry, s: EvalSet) -> list[Question]:
    """The questions of a question-answering set, restricted to its split's articles if it has one."""
    questions = load_questions(s.file)
    if s.split:
        from rag.splits import in_split, read_split

        questions = in_split(questions, read_split(registry.split_file), s.split)
    return questions


def set_size_and_types(registry: Registry, s: EvalSet) -> tuple[int | None, list[str]]:
    """How many questions a set has and their types; (None, []) when its data is not here."""
    from rag.evaluation import load_conversations

    if not s.file.exists() or (s.split and not registry.split_file.exists()):
        return None, []
    items = load_conversations(s.file) if s.kind == "conversation" else set_questions(registry, s)
    return len(items), [i.type for i in items]
