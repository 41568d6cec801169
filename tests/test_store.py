import json

import pytest

import rag.store as store
import rag.stores.faiss as faiss_store
from rag.chunking import ChunkerConfig
from rag.corpus import load_corpus
from rag.errors import IndexMismatchError, IndexNotFoundError, InvalidInputError
from rag.indexing import open_index
from rag.store import build_index, load_index


def test_build_load_and_manifest(small_corpus, fake_embedder, tmp_path):
    docs = load_corpus(small_corpus)
    report = build_index(docs, fake_embedder, tmp_path / "idx")
    idx = load_index(tmp_path / "idx", model_id="fake-bow")
    m = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert m["format_version"] == store.FORMAT_VERSION and m["embedding_model"] == "fake-bow" and m["dim"] == 64
    assert m["documents"] == {d.id: d.sha256 for d in docs}
    assert m["faiss"]["type"] == "IndexFlatIP"
    assert idx.vectors.count("chunk") == len(idx.chunks) == report.chunks
    assert idx.vectors.count("candidate") == len(idx.candidates) == report.candidates
    assert set(report.added) == {"alpha", "beta"}


def test_manifest_mismatch_is_detected(small_corpus, fake_embedder, tmp_path):
    build_index(load_corpus(small_corpus), fake_embedder, tmp_path / "idx")
    with pytest.raises(IndexMismatchError, match="model"):
        load_index(tmp_path / "idx", model_id="another-model")
    with pytest.raises(IndexMismatchError, match="chunker"):
        load_index(tmp_path / "idx", chunker=ChunkerConfig(max_tokens=100))
    with pytest.raises(IndexNotFoundError):
        load_index(tmp_path / "nothing")
    # an older corpus is refused when loading strictly
    idx = load_index(tmp_path / "idx")
    (small_corpus / "beta.md").write_text("# Changed\nNew text.\n")
    with pytest.raises(IndexMismatchError, match="1 changed"):
        idx.check_fresh(load_corpus(small_corpus))


def test_interrupted_build_leaves_the_old_index_loadable(small_corpus, fake_embedder, tmp_path, monkeypatch):
    build_index(load_corpus(small_corpus), fake_embedder, tmp_path / "idx")
    before = load_index(tmp_path / "idx")
    (small_corpus / "gamma.txt").write_text("Gamma\nA third document about ferries.\n")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(faiss_store.faiss, "write_index", crash)
    with pytest.raises(KeyboardInterrupt):
        build_index(load_corpus(small_corpus), fake_embedder, tmp_path / "idx", previous=before)
    monkeypatch.undo()
    after = load_index(tmp_path / "idx")
    assert [c.id for c in after.chunks] == [c.id for c in before.chunks]
    assert not list(tmp_path.glob(".idx.tmp-*"))


def test_crash_between_renames_is_recovered(small_corpus, fake_embedder, tmp_path):
    build_index(load_corpus(small_corpus), fake_embedder, tmp_path / "idx")
    (tmp_path / "idx").rename(tmp_path / ".idx.old-123")
    assert len(load_index(tmp_path / "idx").chunks) > 0


def test_a_build_never_replaces_what_is_not_an_index(small_corpus, fake_embedder, tmp_path):
    # The build swaps the whole folder into place: aimed at a user's folder, it would delete it.
    docs = load_corpus(small_corpus)
    mine = tmp_path / "mydocs"
    (mine / "sub").mkdir(parents=True)
    (mine / "thesis.docx").write_bytes(b"years of work")
    with pytest.raises(InvalidInputError, match="not a rag index"):
        build_index(docs, fake_embedder, mine)
    assert (mine / "thesis.docx").read_bytes() == b"years of work" and (mine / "sub").is_dir()
    with pytest.raises(InvalidInputError, match="not a rag index"):  # the corpus folder itself
        open_index(small_corpus, small_corpus, fake_embedder)
    assert sorted(p.name for p in small_corpus.iterdir()) == sorted(d.source.rsplit("/", 1)[-1] for d in docs)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    with pytest.raises(InvalidInputError, match="is a file"):
        build_index(docs, fake_embedder, a_file)
    assert a_file.read_text() == "keep me"
    # an empty folder, and an index being rebuilt, are fine
    (tmp_path / "empty").mkdir()
    build_index(docs, fake_embedder, tmp_path / "empty")
    build_index(docs, fake_embedder, tmp_path / "empty")
    assert len(load_index(tmp_path / "empty").chunks) > 0


def test_recovery_does_not_delete_a_folder_it_did_not_make(small_corpus, fake_embedder, tmp_path):
    build_index(load_corpus(small_corpus), fake_embedder, tmp_path / "idx")
    (tmp_path / "idx").rename(tmp_path / ".idx.old-123")
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "mine.txt").write_text("keep me")
    with pytest.raises(IndexNotFoundError):
        load_index(tmp_path / "idx")
    assert (tmp_path / "idx" / "mine.txt").read_text() == "keep me"


def test_changing_one_file_reembeds_only_that_file(small_corpus, fake_embedder, tmp_path):
    idx, first = open_index(small_corpus, tmp_path / "idx", fake_embedder)
    assert first is not None and first.embedded_texts == len(idx.chunks) + len(idx.candidates)
    _again, none = open_index(small_corpus, tmp_path / "idx", fake_embedder)
    assert none is None  # current index: loaded, nothing embedded
    (small_corpus / "beta.md").write_text("# Mountain Rescue in Ostia\nOstia runs fourteen stations now.\n")
    (small_corpus / "alpha.txt").unlink()
    (small_corpus / "delta.txt").write_text("Delta\nA new document.\n")
    idx2, report = open_index(small_corpus, tmp_path / "idx", fake_embedder)
    assert report.changed == ("beta",) and report.removed == ("alpha",) and report.added == ("delta",)
    assert report.unchanged == ()
    assert {c.doc_id for c in idx2.chunks} == {"beta", "delta"}
    expected = sum(1 for c in idx2.chunks) + len(idx2.candidates)
    assert report.embedded_texts == expected
    # only the changed document is re-embedded when others stay
    (small_corpus / "beta.md").write_text("# Mountain Rescue in Ostia\nOstia runs fifteen stations now.\n")
    idx3, report3 = open_index(small_corpus, tmp_path / "idx", fake_embedder)
    assert report3.unchanged == ("delta",) and report3.changed == ("beta",)
    beta_texts = sum(1 for c in idx3.chunks if c.doc_id == "beta") + sum(1 for c in idx3.candidates if c.doc_id == "beta")
    assert report3.embedded_texts == beta_texts
    # reused vectors equal freshly computed ones
    row = next(i for i, c in enumerate(idx3.chunks) if c.doc_id == "delta")
    assert idx3.vectors.get("chunk", [row])[0] == pytest.approx(fake_embedder.embed_batch([idx3.chunks[row].index_text])[0])


def test_settings_change_rebuilds_everything_and_says_why(small_corpus, fake_embedder, tmp_path):
    open_index(small_corpus, tmp_path / "idx", fake_embedder)
    idx, report = open_index(small_corpus, tmp_path / "idx", fake_embedder, ChunkerConfig(max_tokens=100))
    assert report.rebuilt_because.startswith("index was built with chunker settings") and "rebuild it" not in report.rebuilt_because
    assert report.unchanged == () and report.embedded_texts == len(idx.chunks) + len(idx.candidates)
    _, same = open_index(small_corpus, tmp_path / "idx", fake_embedder, ChunkerConfig(max_tokens=100))
    assert same is None
    (small_corpus / "beta.md").write_text("# Changed\nNew text.\n")
    _, incremental = open_index(small_corpus, tmp_path / "idx", fake_embedder, ChunkerConfig(max_tokens=100))
    assert incremental.rebuilt_because is None and incremental.unchanged == ("alpha",)


def test_a_document_with_nothing_to_index_is_named(small_corpus, fake_embedder, tmp_path):
    (small_corpus / "menu.txt").write_text("Skip to content\nLatest\n")
    (small_corpus / "blank.md").write_text("")
    idx, report = open_index(small_corpus, tmp_path / "idx", fake_embedder)
    assert report.empty == ("blank", "menu")
    assert {c.doc_id for c in idx.chunks} == {"alpha", "beta"} and "menu" in idx.manifest["documents"]


def test_hnsw_above_threshold_records_recall(fake_embedder, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(3000, 32)).astype("float32")
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    _index, meta = faiss_store.faiss_index(vecs, store.IndexConfig(flat_threshold=1000))
    assert meta["type"] == "IndexHNSWFlat" and 0.9 <= meta["recall_at_10"] <= 1.0


def test_concurrent_builds_of_one_index_take_turns(small_corpus, tmp_path):
    # A server and a `rag ask` started together on a fresh checkout: one builds, the other waits for
    # it and loads the result instead of building again (and failing its rename).
    import threading
    import time as _time

    from tests.conftest import FakeEmbedder

    class SlowEmbedder(FakeEmbedder):
        def embed_batch(self, texts):
            _time.sleep(0.3)
            return super().embed_batch(texts)

    results, notes, errors = [], [], []

    def run(emb):
        try:
            results.append(open_index(small_corpus, tmp_path / "idx", emb, notify=notes.append))
        except Exception as e:
            errors.append(e)

    embedders = [SlowEmbedder(), SlowEmbedder()]
    threads = [threading.Thread(target=run, args=(e,)) for e in embedders]
    for t in threads:
        t.start()
        _time.sleep(0.05)
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 2
    assert sorted(r is None for _, r in results) == [False, True]  # one built, one only loaded
    assert sum(bool(e.batches) for e in embedders) == 1
    assert notes == [f"another process is building the index at {tmp_path / 'idx'}; waiting for it"]
    assert results[0][0].manifest == results[1][0].manifest


def test_names_are_stored_at_build_and_match_the_lazy_scan(small_corpus, fake_embedder, tmp_path):
    from rag.scoring import Scorer
    from rag.text import capitalised_names

    build_index(load_corpus(small_corpus), fake_embedder, tmp_path / "idx")
    idx = load_index(tmp_path / "idx", model_id="fake-bow")
    # "and Sudmark" is capitalised mid-sentence: a name. "agreement" is written lower-case there, and
    # "Ostia" only ever opens a sentence, where capitals say nothing.
    assert "sudmark" in idx.names and "agreement" not in idx.names and "ostia" not in idx.names
    assert idx.names == capitalised_names(c.text for c in idx.candidates) == Scorer(idx).names()


@pytest.mark.parametrize("manifest", ["[]", '{"format_version": 3, "documents": null}', "not json {"])
def test_a_manifest_of_the_wrong_shape_is_one_clear_error(small_corpus, fake_embedder, tmp_path, manifest):
    from rag.errors import IndexCorruptError

    build_index(load_corpus(small_corpus), fake_embedder, tmp_path / "idx")
    (tmp_path / "idx" / "manifest.json").write_text(manifest)
    with pytest.raises(IndexCorruptError, match=r"manifest\.json .*rag index --rebuild"):
        load_index(tmp_path / "idx")
    with pytest.raises(IndexCorruptError):  # not a silent rebuild reported as "new documents"
        open_index(small_corpus, tmp_path / "idx", fake_embedder)


@pytest.mark.parametrize("damage", ["truncate", "zero"])
def test_a_damaged_index_file_is_named_and_a_rebuild_says_why(small_corpus, fake_embedder, tmp_path, damage):
    from rag.errors import IndexCorruptError

    build_index(load_corpus(small_corpus), fake_embedder, tmp_path / "idx")
    f = tmp_path / "idx" / "candidate_vectors.npy"
    data = bytearray(f.read_bytes())
    if damage == "truncate":
        f.write_bytes(bytes(data[: len(data) // 2]))
    else:  # zeroed bytes inside the vectors: the file still parses
        data[-64:] = bytes(64)
        f.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match=r"candidate_vectors\.npy .*rag index --rebuild"):
        open_index(small_corpus, tmp_path / "idx", fake_embedder)
    said: list[str] = []
    _, report = open_index(small_corpus, tmp_path / "idx", fake_embedder, rebuild=True, notify=said.append)
    assert report is not None and any("corrupt" in s and "candidate_vectors.npy" in s for s in said)
    assert load_index(tmp_path / "idx").manifest["files"]


def test_the_temporary_folder_of_a_killed_build_is_removed_by_the_next(small_corpus, fake_embedder, tmp_path):
    import subprocess

    build_index(load_corpus(small_corpus), fake_embedder, tmp_path / "idx")
    dead = subprocess.run(["true"]).returncode == 0 and subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".idx.tmp-{dead.pid}"
    (stale / "bm25").mkdir(parents=True)
    mine = tmp_path / f".idx.tmp-{__import__('os').getpid()}x"  # not a build folder: left alone
    mine.mkdir()
    said: list[str] = []
    open_index(small_corpus, tmp_path / "idx", fake_embedder, notify=said.append)
    assert not stale.exists() and mine.exists()
    assert any(stale.name in s for s in said)
