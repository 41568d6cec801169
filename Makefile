# Two commands do everything on a fresh machine: `make run` (serve) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup milvus run ask index test lint eval eval-external train bench clean

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

milvus:               ## the real Milvus 2.3.5 server the Milvus tests start (own venv: .venv-milvus)
	.ci/milvus-setup

test: setup lint milvus  ## lint and types, tests (real model, real FAISS, real Milvus), then the evaluation gate
	$(BIN)/python -m pytest -q
	$(BIN)/rag eval --all --check

lint: setup
	$(BIN)/ruff check rag api tests train bench
	$(BIN)/ruff format --check rag api tests train bench
	$(BIN)/mypy

eval: setup           ## every set of eval/sets/sets.toml: eval/reports/ and eval/README.md
	$(BIN)/rag eval --all

eval-external: setup  ## the same with the SQuAD sets of ../shared/bench (own indexes; ~15 min)
	$(BIN)/rag eval --all --external

train: setup          ## reader (~50 min) then selector + verifiers (~5 min), from SQuAD; writes models/
	$(BIN)/python train/reader.py --minutes 50
	$(BIN)/rag train

bench: setup          ## ours beside the LangChain + sentence-transformers + FAISS tutorial pipeline, in one run (~20 min)
	$(BIN)/python bench/versus_tutorial.py

clean:
	rm -rf index index-* .pytest_cache
