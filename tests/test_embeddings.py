"""Shared embeddings: normalised, cached per record by content hash, memoised per run, clear when absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dqaudit.cache import Cache
from dqaudit.config import AuditConfig
from dqaudit.context import AuditContext
from dqaudit.data import dataset_from_frame
from dqaudit.errors import MissingDependency
from dqaudit.features import embeddings


def _ctx(texts: list[str], cache_dir: Path | None) -> AuditContext:
    dataset = dataset_from_frame(pd.DataFrame({"text": texts}))
    return AuditContext(dataset, AuditConfig(), cache=Cache(cache_dir))


@pytest.fixture
def fake_encode(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Replace the model with a deterministic hash embedding and record what was encoded."""
    calls: list[list[str]] = []

    def encode(texts: list[str], model: str = embeddings.DEFAULT_MODEL, advance=None) -> np.ndarray:
        calls.append(list(texts))
        rows = [np.random.default_rng(abs(hash(t)) % 2**32).normal(size=8) for t in texts]
        out = np.array(rows, dtype=np.float32).reshape(len(texts), 8)
        return out / np.linalg.norm(out, axis=1, keepdims=True).clip(1e-9)

    monkeypatch.setattr(embeddings, "encode", encode)
    return calls


def test_rerun_reads_the_cache_and_grown_data_encodes_only_new_rows(tmp_path: Path, fake_encode) -> None:
    first = embeddings.embed_texts(_ctx(["a", "b", "a"], tmp_path / "c"))
    assert first.shape == (3, 8) and first.dtype == np.float32
    assert np.allclose(first[0], first[2])
    assert fake_encode == [["a", "b"]]  # the duplicate text is encoded once

    again = embeddings.embed_texts(_ctx(["a", "b", "a"], tmp_path / "c"))
    assert np.array_equal(first, again)
    assert len(fake_encode) == 1

    grown = embeddings.embed_texts(_ctx(["b", "c", "a"], tmp_path / "c"))
    assert fake_encode[-1] == ["c"]
    assert np.array_equal(grown[0], first[1]) and np.array_equal(grown[2], first[0])


def test_memoised_within_a_run_and_keyed_by_model(fake_encode) -> None:
    ctx = _ctx(["x", "y"], None)
    assert embeddings.embed_texts(ctx) is embeddings.embed_texts(ctx)
    assert len(fake_encode) == 1
    embeddings.embed_texts(ctx, "/some/other/model")
    assert len(fake_encode) == 2


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = embeddings.find_spec
    monkeypatch.setattr(
        embeddings, "find_spec", lambda name: None if name == "sentence_transformers" else real(name)
    )
    with pytest.raises(MissingDependency, match=r"sentence-transformers.*dqaudit\[embeddings\]"):
        embeddings.embed_texts(_ctx(["x"], None))


def test_encode_batches_texts_of_similar_length_in_the_input_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch is padded to its longest text, so batches hold texts of similar length; vectors come back in
    the order given."""
    batches: list[list[str]] = []

    class Model:
        def get_embedding_dimension(self) -> int:
            return 2

        def encode(self, texts: list[str], **_: object) -> np.ndarray:
            batches.append(list(texts))
            return np.array([[len(t), sum(map(ord, t))] for t in texts], dtype=np.float32)

    monkeypatch.setattr(embeddings, "_load_model", lambda model: Model())
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 400, size=3 * embeddings._BATCH + 5)
    texts = ["x" * int(n) + str(i) for i, n in enumerate(sizes)]
    seen: list[int] = []
    vectors = embeddings.encode(texts, advance=seen.append)
    assert np.array_equal(vectors, np.array([[len(t), sum(map(ord, t))] for t in texts], dtype=np.float32))
    assert sum(seen) == len(texts) and len(batches) == 4
    assert all(len(b) <= embeddings._BATCH for b in batches)
    longest = [max(map(len, b)) for b in batches]
    shortest = [min(map(len, b)) for b in batches]
    assert all(shortest[k] >= longest[k + 1] for k in range(len(batches) - 1))  # longest first, no overlap
    assert embeddings.encode([]).shape == (0, 2)


def test_unloadable_model_is_a_config_error() -> None:
    from dqaudit.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot be loaded offline"):
        embeddings.encode(["x"], "/nonexistent/model-dir")


@pytest.mark.slow
def test_real_model_is_offline_normalised_and_semantic(tmp_path: Path) -> None:
    texts = [
        "How do I reset my card PIN?",
        "I forgot my card PIN, how to change it?",
        "The weather is nice today",
    ]
    vectors = embeddings.embed_texts(_ctx(texts, tmp_path))
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
