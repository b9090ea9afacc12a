"""The sales adapter: merged into MiniLM's weights exactly (integer factors), and refused
with a reason when it does not fit them."""

from __future__ import annotations

import io

import numpy as np
import pytest

from gateway.semantic import adapter
from gateway.semantic.adapter import AdapterError
from gateway.semantic.catalogue import CATALOGUE, read_adapter

LAYER = "encoder.layer.0.attention.self.query"


def weights() -> dict[str, np.ndarray]:
    return {LAYER + ".weight": np.arange(6, dtype=np.float32).reshape(2, 3),
            LAYER + ".bias": np.zeros(2, np.float32),
            "embeddings.word_embeddings.weight": np.ones((4, 3), np.float32)}


def low_rank(scale: float = 0.5) -> dict[str, np.ndarray]:
    return {LAYER + ".weight.lora_a": np.array([[1, 0, -2]], np.int16),
            LAYER + ".weight.lora_b": np.array([[3], [-1]], np.int16),
            LAYER + ".weight.lora_scale": np.array(scale)}


def test_a_low_rank_change_and_a_vector_are_merged() -> None:
    original = weights()
    merged = adapter.merge(original, {**low_rank(), LAYER + ".bias": np.array([1.0, 2.0])})
    change = np.array([[3, 0, -6], [-1, 0, 2]]) * 0.5
    assert np.array_equal(merged[LAYER + ".weight"], original[LAYER + ".weight"] + change)
    assert merged[LAYER + ".weight"].dtype == np.float32
    assert merged[LAYER + ".bias"].tolist() == [1.0, 2.0]
    assert merged["embeddings.word_embeddings.weight"] is original[
        "embeddings.word_embeddings.weight"]
    assert original[LAYER + ".weight"][0, 0] == 0  # the input is left as it was


def test_an_adapter_that_does_not_fit_is_refused() -> None:
    with pytest.raises(AdapterError, match="not an encoder layer's weight"):
        adapter.merge(weights(), {"embeddings.word_embeddings.weight": np.zeros((4, 3))})
    wide = {**low_rank(), LAYER + ".weight.lora_a": np.zeros((1, 4), np.int16)}
    with pytest.raises(AdapterError, match=r"has shape \(2, 4\), the weights \(2, 3\)"):
        adapter.merge(weights(), wide)
    missing = {k: v for k, v in low_rank().items() if not k.endswith("lora_scale")}
    with pytest.raises(AdapterError, match="lacks"):
        adapter.merge(weights(), missing)
    floats = {**low_rank(), LAYER + ".weight.lora_b": np.ones((2, 1), np.float32)}
    with pytest.raises(AdapterError, match="not int16"):
        adapter.merge(weights(), floats)


def test_an_adapter_file_reads_back() -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **low_rank(0.25))
    read = adapter.read(buffer.getvalue())
    assert float(read[LAYER + ".weight.lora_scale"]) == 0.25
    assert read[LAYER + ".weight.lora_a"].dtype == np.int16


def test_the_shipped_adapter_matches_its_pin_and_changes_every_encoder_matrix() -> None:
    arrays = adapter.read(read_adapter(CATALOGUE["minilm"]))
    changed = {k[: -len(".lora_a")] for k in arrays if k.endswith(".lora_a")}
    assert len(changed) == 36  # six layers x (query, key, value, three dense)
    assert all(arrays[k].dtype == np.int16 for k in arrays if k.endswith((".lora_a", ".lora_b")))
