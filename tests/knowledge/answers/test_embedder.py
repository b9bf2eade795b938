"""The ONNX embedder gives the same vectors as the sentence-transformers model it
was exported from, reuses its cached graph, and falls back to torch if it cannot
export."""

from __future__ import annotations

import numpy as np
import pytest

from core.settings import packaged_model_path
from knowledge.answers import embedder as embedder_module
from knowledge.answers.embedder import Embedder, TorchEncoder

pytestmark = pytest.mark.slow  # exports and runs the real model

TEXTS = [
    "hi",
    "What's the REFUND policy for damaged goods I ordered online last month?",
    "ça coûte combien ? 🙂",
    "card " * 400,  # longer than the model's 256 tokens: truncated the same way
    "",
]


@pytest.fixture(scope="module")
def onnx_embedder(tmp_path_factory):
    embedder = Embedder(packaged_model_path(), cache_dir=tmp_path_factory.mktemp("onnx"),
                        encoders=("minilm",))
    assert embedder.backend == "onnx"
    return embedder


@pytest.fixture(scope="module")
def torch_encoder():
    return TorchEncoder(packaged_model_path())


def test_onnx_vectors_match_sentence_transformers(onnx_embedder, torch_encoder):
    batched = onnx_embedder.encode(TEXTS)  # one padded batch
    one_by_one = np.vstack([onnx_embedder.encode([t]) for t in TEXTS])
    expected = torch_encoder.encode(TEXTS)
    assert batched.shape == (len(TEXTS), 384)
    assert np.abs(batched - expected).max() < 1e-5
    assert np.abs(one_by_one - expected).max() < 1e-5
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


def test_more_texts_than_a_batch_keep_their_order(onnx_embedder, torch_encoder):
    texts = [f"question {i} " + "about payments " * (i % 9) for i in range(150)]
    assert np.abs(onnx_embedder.encode(texts) - torch_encoder.encode(texts)).max() < 1e-5
    assert onnx_embedder.encode([]).shape == (0, 384)


def test_the_exported_graph_is_reused(onnx_embedder, monkeypatch):
    cache_dir = onnx_embedder._parts[0].graph.parent

    def no_export(*_args):
        raise AssertionError("exported again")

    monkeypatch.setattr(embedder_module, "export_onnx", no_export)
    again = Embedder(packaged_model_path(), cache_dir=cache_dir, encoders=("minilm",))
    assert again.backend == "onnx"
    assert [p.suffix for p in cache_dir.iterdir()] == [".onnx"]  # no partial files left


def test_a_failed_export_falls_back_to_torch(tmp_path, monkeypatch):
    def broken_export(*_args):
        raise RuntimeError("exporter missing")

    monkeypatch.setattr(embedder_module, "export_onnx", broken_export)
    fallback = Embedder(packaged_model_path(), cache_dir=tmp_path, encoders=("minilm",))
    assert fallback.backend == "torch"
    assert fallback.encode(["hello"]).shape == (1, 384)
    assert list(tmp_path.iterdir()) == []


def embedder_beside(graph, cache_dir) -> Embedder:
    """A new process's embedder with this cache directory (the exported graph linked in)."""
    if not (cache_dir / graph.name).exists():
        (cache_dir / graph.name).symlink_to(graph)
    return Embedder(packaged_model_path(), cache_dir=cache_dir, encoders=("minilm",))


def test_kept_variants_are_read_by_a_new_process_instead_of_encoded(
        onnx_embedder, tmp_path, monkeypatch):
    graph = onnx_embedder._parts[0].graph
    first = embedder_beside(graph, tmp_path)
    first.keep_variants(["where is my order", "Wo ist meine Bestellung?"])
    assert first.kept_variants_file.exists()
    assert not list(tmp_path.glob("*.partial*"))

    later = embedder_beside(graph, tmp_path)
    monkeypatch.setattr(later._parts[0], "encode",
                        lambda texts: pytest.fail(f"encoded {texts} again"))
    kept = later.encode_variants(["Wo ist meine Bestellung?", "where is my order"])
    assert np.abs(kept - onnx_embedder.encode(["Wo ist meine Bestellung?",
                                               "where is my order"])).max() < 1e-6


def test_a_damaged_file_of_kept_variants_is_ignored(onnx_embedder, tmp_path):
    graph = onnx_embedder._parts[0].graph
    first = embedder_beside(graph, tmp_path)
    first.kept_variants_file.write_bytes(b"not an npz")
    later = embedder_beside(graph, tmp_path)
    assert later.encode_variants(["hi"]).shape == (1, 384)
