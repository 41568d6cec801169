# Two commands do everything on a fresh machine: `make run` (serve) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run ask index test lint eval eval-external train bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[api,dev,train]'
	touch $(STAMP)

setup: $(STAMP)

run: setup            ## serve http://127.0.0.1:8000 (builds index/ on first start)
	$(BIN)/rag serve

ask: setup
	$(BIN)/rag ask "What is Belgium's focus area?"

index: setup
	$(BIN)/rag index

test: setup           ## unit + integration tests (real model, real FAISS), then the evaluation gate
	$(BIN)/python -m pytest -q
	$(BIN)/rag eval eval/questions.jsonl --check

eval: setup
	$(BIN)/rag eval eval/questions.jsonl --ablation --compare-model

eval-squad: setup     ## SQuAD v1.1 dev, 1,000 questions over 2,067 paragraphs (own index; ~3 min)
	$(BIN)/rag eval ../shared/bench/squad-dev/queries.jsonl --corpus ../shared/bench/squad-dev/corpus.jsonl --index index-squad-dev --out eval/results/squad-dev

train: setup          ## reader (~50 min) then selector + verifiers (~5 min), from SQuAD; writes models/
	$(BIN)/python train/reader.py --minutes 50
	$(BIN)/rag train

bench: setup          ## ours beside the LangChain + sentence-transformers + FAISS tutorial pipeline, in one run (~20 min)
	$(BIN)/python bench/versus_tutorial.py

clean:
	rm -rf index index-* .pytest_cache
