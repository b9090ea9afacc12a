"""Builds a BERT sentence encoder as an ONNX graph from safetensors weights, then int8.

Used once, by ``models install minilm``: the float32 weights (a safetensors file: u64 header
length, JSON header, raw little-endian data) become initializers of a plain BERT encoder
(embeddings, ``layers`` x [self-attention, feed-forward], each followed by a residual and a layer
norm; GELU with erf) whose output is the last hidden state; onnxruntime's dynamic quantization
then stores the matrix weights as int8 and runs them with integer matrix products. ``onnx`` is
needed only here, at install time.
"""

from __future__ import annotations

import json
import logging
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

HIDDEN = 384
HEADS = 12
LAYERS = 6
LAYER_NORM_EPS = 1e-12


def read_safetensors(data: bytes) -> dict[str, np.ndarray[Any, Any]]:
    """The float32 tensors of a safetensors file, by name."""
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + size])
    body = memoryview(data)[8 + size :]
    tensors = {}
    for name, info in header.items():
        if name != "__metadata__" and info["dtype"] == "F32":
            start, end = info["data_offsets"]
            tensors[name] = np.frombuffer(body[start:end], dtype="<f4").reshape(info["shape"])
    return tensors


def build(weights: dict[str, np.ndarray[Any, Any]], fp32_path: Path) -> None:
    """Write the float32 encoder graph (inputs input_ids, attention_mask, token_type_ids)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []
    counter = [0]

    def const(name: str, value: np.ndarray[Any, Any]) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], **attrs: Any) -> str:
        counter[0] += 1
        out = f"{op.lower()}_{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def dense(x: str, prefix: str) -> str:
        w = const(prefix + ".weight_t", weights[prefix + ".weight"].T.astype(np.float32))
        b = const(prefix + ".bias", weights[prefix + ".bias"])
        return node("Add", [node("MatMul", [x, w]), b])

    def norm(x: str, prefix: str) -> str:
        gamma = const(prefix + ".weight", weights[prefix + ".weight"])
        beta = const(prefix + ".bias", weights[prefix + ".bias"])
        return node("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=LAYER_NORM_EPS)

    size = HIDDEN // HEADS
    shape_heads = const("shape_heads", np.array([0, 0, HEADS, size], dtype=np.int64))
    shape_hidden = const("shape_hidden", np.array([0, 0, HIDDEN], dtype=np.int64))
    # embeddings: words + positions [0, seq) + token types, then a layer norm
    first = const("first", np.array([0], np.int64))
    seq = node("Slice", [node("Shape", ["input_ids"]), const("at1", np.array([1], np.int64)),
                         const("at2", np.array([2], np.int64))])  # [sequence length]
    positions = node("Slice", [const("position_embeddings",
                                     weights["embeddings.position_embeddings.weight"]),
                               first, seq, first])  # rows [0, sequence length)
    x = node("Add", [
        node("Add", [
            node("Gather", [const("word_embeddings",
                                  weights["embeddings.word_embeddings.weight"]), "input_ids"]),
            positions,
        ]),
        node("Gather", [const("token_type_embeddings",
                              weights["embeddings.token_type_embeddings.weight"]),
                        "token_type_ids"]),
    ])
    x = norm(x, "embeddings.LayerNorm")
    # attention mask as an additive bias: 0 for tokens, -10000 for padding; shape (B, 1, 1, S)
    mask = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    bias = node("Mul", [node("Sub", [const("one_f", np.array(1.0, np.float32)), mask]),
                        const("minus", np.array(-10000.0, np.float32))])
    bias = node("Unsqueeze", [bias, const("axes12", np.array([1, 2], np.int64))])
    scale = const("scale", np.array(1.0 / math.sqrt(size), np.float32))
    for n in range(LAYERS):
        p = f"encoder.layer.{n}."
        q, k, v = (node("Transpose", [node("Reshape", [dense(x, p + f"attention.self.{m}"),
                                                        shape_heads])], perm=perm)
                   for m, perm in (("query", [0, 2, 1, 3]), ("key", [0, 2, 3, 1]),
                                   ("value", [0, 2, 1, 3])))
        scores = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), bias])
        context = node("MatMul", [node("Softmax", [scores], axis=-1), v])
        context = node("Reshape", [node("Transpose", [context], perm=[0, 2, 1, 3]),
                                   shape_hidden])
        x = norm(node("Add", [x, dense(context, p + "attention.output.dense")]),
                 p + "attention.output.LayerNorm")
        inner = dense(x, p + "intermediate.dense")
        erf = node("Erf", [node("Mul", [inner, const(f"inv_sqrt2_{n}",
                                                       np.array(1 / math.sqrt(2), np.float32))])])
        gelu = node("Mul", [node("Mul", [inner, const(f"half_{n}", np.array(0.5, np.float32))]),
                            node("Add", [erf, const(f"one_{n}", np.array(1.0, np.float32))])])
        x = norm(node("Add", [x, dense(gelu, p + "output.dense")]), p + "output.LayerNorm")
    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    ints = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
            for name in ("input_ids", "attention_mask", "token_type_ids")]
    out = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                        ["batch", "sequence", HIDDEN])
    graph = helper.make_graph(nodes, "bert_encoder", ints, [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="salestag-gateway")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save_model(model, str(fp32_path))


def quantize(fp32_path: Path, int8_path: Path) -> None:
    """Dynamic int8 quantization of the weight matrices and the embedding tables
    (onnxruntime's own tool); products of two activations (attention) stay float."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.INFO)  # the tool logs every tensor it leaves alone
    try:
        _quantize(quantize_dynamic, QuantType, fp32_path, int8_path)
    finally:
        logging.disable(logging.NOTSET)


def _quantize(quantize_dynamic: Any, QuantType: Any, fp32_path: Path, int8_path: Path) -> None:  # noqa: N803
    quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gather"],
                     extra_options={"MatMulConstBOnly": True})  # weights only, not Q.K^T
