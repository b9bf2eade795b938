"""Sentence embeddings, loaded from a local path only (never from a hub).

The model (all-MiniLM-L6-v2: BERT, mean pooling, unit length) runs on ONNX
Runtime: on this 2-core machine it encodes a customer's question about three
times faster than PyTorch, with the same vectors (to 1e-6). The ONNX graph is
exported once from the local weights with torch and cached under var/cache; a
process that finds it never imports torch. If the export fails, the
sentence-transformers model answers instead (slower, same vectors).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np

from core.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

_MEMO_LIMIT = 200_000
_BATCH = 64
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
DEFAULT_CACHE_DIR = PROJECT_ROOT / "var" / "cache" / "embedder"


class Embedder:
    def __init__(self, model_path: Path, cache_dir: Path | None = None) -> None:
        # Offline is not a preference: this machine cannot reach any model hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.model_path = Path(model_path)
        self.name = self.model_path.name
        self._memo: dict[str, np.ndarray] = {}  # question variants seen by this process
        self._encoder: OnnxEncoder | TorchEncoder
        try:
            self._encoder = OnnxEncoder(self.model_path, cache_dir or DEFAULT_CACHE_DIR)
        except Exception as exc:  # noqa: BLE001 - any export/runtime failure: fall back
            log.warning("ONNX embedder unavailable (%s); using PyTorch", exc)
            self._encoder = TorchEncoder(self.model_path)
        self.backend = self._encoder.backend

    def encode_variants(self, texts: list[str]) -> np.ndarray:
        """Like encode, but remembers each variant: an index rebuild after a publish
        only encodes what changed."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            if len(self._memo) > _MEMO_LIMIT:
                self._memo.clear()
            self._memo.update(zip(missing, self.encode(missing), strict=True))
        return np.vstack([self._memo[t] for t in texts]) if texts else self.encode([])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text (so a dot product is the cosine)."""
        return self._encoder.encode(texts)

    async def encode_async(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.encode, texts)


class TorchEncoder:
    backend = "torch"

    def __init__(self, model_path: Path) -> None:
        from sentence_transformers import SentenceTransformer  # heavy; only when needed

        self._model = SentenceTransformer(str(model_path), device="cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(texts, batch_size=_BATCH, normalize_embeddings=True,
                                     show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


class OnnxEncoder:
    backend = "onnx"

    def __init__(self, model_path: Path, cache_dir: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self._check_pipeline(model_path)
        max_length = json.loads((model_path / "sentence_bert_config.json").read_text())[
            "max_seq_length"]
        self._tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_length)
        self._tokenizer.enable_padding()
        self.graph = cache_dir / f"{model_path.name}-{_weights_digest(model_path)}.onnx"
        if not self.graph.exists():
            export_onnx(model_path, self.graph)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = min(os.cpu_count() or 1, 4)
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle threads must not spin: numpy's search right after, and the gateway's
        # event loop, need the same two cores (p50 per query 18 -> 11 ms here).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(self.graph), options, providers=["CPUExecutionProvider"])
        self.dimension = int(self._session.get_outputs()[0].shape[-1])

    @staticmethod
    def _check_pipeline(model_path: Path) -> None:
        """The exported graph does mean pooling and normalisation; refuse any other model."""
        modules = [m["type"].rsplit(".", 1)[-1]
                   for m in json.loads((model_path / "modules.json").read_text())]
        pooling = json.loads((model_path / "1_Pooling" / "config.json").read_text())
        if modules != ["Transformer", "Pooling", "Normalize"] or not pooling.get(
                "pooling_mode_mean_tokens"):
            raise ValueError(f"{model_path.name} is not a mean-pooled, normalised model")

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Similar lengths share a batch, so little of each batch is padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), _BATCH):
            chunk = order[start:start + _BATCH]
            encodings = self._tokenizer.encode_batch([texts[i] for i in chunk])
            feed = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings],
                                           dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            out[chunk] = self._session.run(None, feed)[0]
        return out


def _weights_digest(model_path: Path) -> str:
    """The cached graph belongs to these exact weights."""
    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):
        with (model_path / name).open("rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    return h.hexdigest()[:16]


def export_onnx(model_path: Path, target: Path) -> None:
    """Trace BERT + mean pooling + normalisation into one ONNX graph. Written to a
    temporary file and renamed, so concurrent processes never read half a graph."""
    import torch
    from transformers import AutoModel

    class MeanPooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    model = MeanPooled(AutoModel.from_pretrained(str(model_path)).eval())
    # A padded batch, so the traced graph keeps the attention mask's code path.
    example = {"input_ids": torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]]),
               "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
               "token_type_ids": torch.zeros((2, 4), dtype=torch.int64)}
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.partial")
    try:
        # Tracing warns about shape-dependent Python branches in BERT; the graph
        # keeps dynamic batch and length axes, checked against torch in the tests.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, tuple(example[k] for k in _INPUTS), str(partial),
                input_names=list(_INPUTS), output_names=["embedding"],
                dynamic_axes={k: {0: "batch", 1: "tokens"} for k in _INPUTS},
                opset_version=17, dynamo=False)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    log.info("exported %s to %s", model_path.name, target)
