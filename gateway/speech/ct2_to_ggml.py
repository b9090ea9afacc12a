"""Convert a CTranslate2 Whisper model (``model.bin``, ``vocabulary.txt``) to whisper.cpp's ggml.

Pure Python + numpy. Tensors are read one at a time and written straight out,
so memory stays near the size of the largest tensor. The output is byte-for-byte deterministic.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

import numpy as np
import numpy.typing as npt

from gateway.errors import GatewayError

log = logging.getLogger(__name__)

FType = Literal["f16", "q8_0"]

GGML_MAGIC = 0x67676D6C
# Header ftype; q8_0 is GGML_FTYPE_MOSTLY_Q8_0 (7) + quantisation version 2 * 1000.
_HEADER_FTYPE = {"f16": 1, "q8_0": 2007}
_T_F32, _T_F16, _T_Q8_0 = 0, 1, 8
_QK8_0 = 32
_Q8_ROWS_PER_CHUNK = 2048

_CT2_DTYPES: dict[int, np.dtype[np.generic]] = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
}
_CT2_SPEC = "WhisperSpec"
_CT2_VERSIONS = range(5, 7)

# Whisper's fixed front end: 16 kHz audio, 400-point FFT.
SAMPLE_RATE = 16_000
N_FFT = 400


class ConversionError(GatewayError):
    """The source model cannot be converted (unexpected layout, missing file)."""


@dataclass(frozen=True)
class Ct2Variable:
    """One named array in a CTranslate2 ``model.bin``: where its bytes are and how to read them."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[np.generic]
    offset: int


# --- reading CTranslate2 ------------------------------------------------------


class _Reader:
    """Little-endian field reader over a binary file."""

    def __init__(self, src: BinaryIO) -> None:
        self.src = src

    def take(self, n: int) -> bytes:
        data = self.src.read(n)
        if len(data) != n:
            raise ConversionError("model.bin is truncated")
        return data

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def string(self) -> str:
        (length,) = struct.unpack("<H", self.take(2))
        return self.take(int(length)).rstrip(b"\0").decode("utf-8")


class ConcatReader(io.RawIOBase):
    """Read-only, seekable view of several files as one (a ``model.bin`` shipped in parts)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        super().__init__()
        self._files = [path.open("rb") for path in paths]
        self._starts: list[int] = []
        total = 0
        for f in self._files:
            self._starts.append(total)
            total += os.fstat(f.fileno()).st_size
        self._size = total
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._size:
            index = max(i for i, start in enumerate(self._starts) if start <= self._pos)
            f = self._files[index]
            f.seek(self._pos - self._starts[index])
            got = f.readinto(view[done:])
            if not got:
                break
            done += got
            self._pos += got
        return done

    def close(self) -> None:
        for f in self._files:
            f.close()
        super().close()


def read_ct2_index(src: BinaryIO) -> dict[str, Ct2Variable]:
    """Index every variable (and alias) of a CTranslate2 Whisper ``model.bin``; data is skipped."""
    size = src.seek(0, os.SEEK_END)
    src.seek(0)
    rd = _Reader(src)
    version = rd.u32()
    if version not in _CT2_VERSIONS:
        raise ConversionError(f"unsupported CTranslate2 binary version {version}")
    spec = rd.string()
    if spec != _CT2_SPEC:
        raise ConversionError(f"model.bin holds a {spec!r}, not a Whisper model")
    rd.u32()  # spec revision
    index: dict[str, Ct2Variable] = {}
    for _ in range(rd.u32()):
        name = rd.string()
        shape = tuple(rd.u32() for _ in range(rd.u8()))
        code = rd.u8()
        nbytes = rd.u32()
        dtype = _CT2_DTYPES.get(code)
        if dtype is None or math.prod(shape) * dtype.itemsize != nbytes:
            raise ConversionError(f"unsupported or inconsistent variable {name!r} (dtype {code})")
        offset = src.tell()
        if offset + nbytes > size:
            raise ConversionError("model.bin is truncated")
        index[name] = Ct2Variable(name, shape, dtype, offset)
        src.seek(nbytes, os.SEEK_CUR)
    for _ in range(rd.u32()):
        alias, target = rd.string(), rd.string()
        index[alias] = index[target]
    return index


def _array(src: BinaryIO, var: Ct2Variable) -> npt.NDArray[np.generic]:
    """Read one variable's data (a fresh, read-only array)."""
    src.seek(var.offset)
    data = _Reader(src).take(math.prod(var.shape) * var.dtype.itemsize)
    return np.frombuffer(data, var.dtype).reshape(var.shape)


# --- name mapping -------------------------------------------------------------

_LAYER = re.compile(r"^(encoder|decoder)/layer_(\d+)/(.+)$")
_SIMPLE = {
    "self_attention/layer_norm": "attn_ln",
    "self_attention/linear_1": "attn.out",
    "attention/layer_norm": "cross_attn_ln",
    "attention/linear_0": "cross_attn.query",
    "attention/linear_2": "cross_attn.out",
    "ffn/layer_norm": "mlp_ln",
    "ffn/linear_0": "mlp.0",
    "ffn/linear_1": "mlp.2",
}
_TOP = {
    "encoder/conv1": "encoder.conv1",
    "encoder/conv2": "encoder.conv2",
    "encoder/layer_norm": "encoder.ln_post",
    "decoder/layer_norm": "decoder.ln",
}
_PARAM = {"weight": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}
# Fused projections: CT2 module -> (ggml module per row slice); key projections carry no bias.
_FUSED = {
    "self_attention/linear_0": ("attn.query", "attn.key", "attn.value"),
    "attention/linear_1": ("cross_attn.key", "cross_attn.value"),
}


def ggml_tensors(
    src: BinaryIO, index: dict[str, Ct2Variable]
) -> Iterator[tuple[str, npt.NDArray[np.generic]]]:
    """Yield ``(ggml name, array)`` per weight in source order, splitting fused projections."""
    seen: set[int] = set()
    for var in sorted(index.values(), key=lambda v: v.offset):
        if var.offset in seen or not var.shape:
            continue  # aliases and scalar options
        seen.add(var.offset)
        yield from _map_variable(var.name, _array(src, var))


def _map_variable(
    name: str, data: npt.NDArray[np.generic]
) -> Iterator[tuple[str, npt.NDArray[np.generic]]]:
    """Map one CTranslate2 variable to the whisper.cpp tensor(s) it holds."""
    if name == "decoder/embeddings/weight":
        yield "decoder.token_embedding.weight", data
        return
    if name.endswith("/position_encodings/encodings"):
        yield name.split("/")[0] + ".positional_embedding", data
        return
    module, _, param = name.rpartition("/")
    if param not in _PARAM:
        raise ConversionError(f"unexpected variable {name!r} in model.bin")
    suffix = _PARAM[param]
    if module in _TOP:
        yield f"{_TOP[module]}.{suffix}", data
        return
    match = _LAYER.match(module)
    if match is None:
        raise ConversionError(f"unexpected variable {name!r} in model.bin")
    side, layer, rest = match.groups()
    prefix = f"{side}.blocks.{layer}."
    if rest in _SIMPLE:
        yield f"{prefix}{_SIMPLE[rest]}.{suffix}", data
    elif rest in _FUSED:
        parts = _FUSED[rest]
        for target, piece in zip(parts, np.split(data, len(parts)), strict=True):
            if suffix == "bias" and target.endswith(".key"):
                if np.any(piece):
                    log.warning("dropping a non-zero key bias in %s", name)
                continue
            yield f"{prefix}{target}.{suffix}", piece
    else:
        raise ConversionError(f"unexpected variable {name!r} in model.bin")


# --- mel filters and vocabulary -----------------------------------------------


_MEL_HZ_STEP = 200.0 / 3  # Hz per mel below 1 kHz
_MEL_LOG_HZ = 1000.0
_MEL_LOG_START = _MEL_LOG_HZ / _MEL_HZ_STEP
_MEL_LOG_STEP = math.log(6.4) / 27.0


def _hz_to_mel(hz: float) -> float:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    if hz < _MEL_LOG_HZ:
        return hz / _MEL_HZ_STEP
    return _MEL_LOG_START + math.log(hz / _MEL_LOG_HZ) / _MEL_LOG_STEP


def _mel_to_hz(mel: float) -> float:
    """Inverse of :func:`_hz_to_mel`."""
    if mel < _MEL_LOG_START:
        return _MEL_HZ_STEP * mel
    return _MEL_LOG_HZ * math.exp(_MEL_LOG_STEP * (mel - _MEL_LOG_START))


def mel_filters(
    n_mels: int = 80, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT
) -> npt.NDArray[np.float32]:
    """Whisper's Slaney-normalised triangular mel filterbank, shape ``(n_mels, n_fft // 2 + 1)``.

    Follows librosa's ``filters.mel`` step by step (including its float32 rounding before the area
    normalisation). Band edges come from scalar ``math`` calls so the result does not depend on
    numpy's SIMD code paths, which keeps the output identical across CPUs.
    """
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    mels = np.linspace(0.0, _hz_to_mel(sample_rate / 2.0), n_mels + 2)
    edges = np.array([_mel_to_hz(float(m)) for m in mels])
    widths = np.diff(edges)
    ramps = np.subtract.outer(edges, freqs)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    triangles = np.minimum(lower, upper)
    weights = np.where(triangles > 0.0, triangles, 0.0).astype(np.float32)  # +0.0, never -0.0
    area = 2.0 / (edges[2:] - edges[:-2])
    normalised: npt.NDArray[np.float32] = (weights * area[:, None]).astype(np.float32)
    return normalised


def _byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's byte-to-unicode map (printable bytes are themselves, others U+0100+)."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def read_vocabulary(path: Path) -> list[bytes]:
    """Tokens up to and including ``<|endoftext|>`` from ``vocabulary.txt``, as raw bytes.

    whisper.cpp names the special tokens after it (timestamps, tasks, languages) itself.
    """
    lines = path.read_text(encoding="utf-8").split("\n")
    try:
        end = lines.index("<|endoftext|>")
    except ValueError:
        raise ConversionError(f"{path} has no <|endoftext|> token") from None
    decoder = _byte_decoder()
    try:
        return [bytes(decoder[ch] for ch in token) for token in lines[: end + 1]]
    except KeyError as exc:
        raise ConversionError(f"{path} has a token outside GPT-2's byte alphabet") from exc


# --- writing ggml -------------------------------------------------------------


def quantize_q8_0(data: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """ggml q8_0 blocks for a float32 array whose size is a multiple of 32 (34 bytes per block)."""
    blocks = data.reshape(-1, _QK8_0)
    scale = np.abs(blocks).max(axis=1) / np.float32(127)
    stored = scale.astype("<f2")
    # Blocks whose scale rounds to zero in f16 decode to zeros whatever their quants are.
    inverse = np.divide(np.float32(1), scale, out=np.zeros_like(scale), where=stored != 0)
    scaled = (blocks * inverse[:, None]).astype(np.float64)
    quants = np.trunc(scaled + np.copysign(0.5, scaled)).astype(np.int8)  # C roundf
    out = np.empty((blocks.shape[0], 2 + _QK8_0), np.uint8)
    out[:, :2] = stored.view(np.uint8).reshape(-1, 2)
    out[:, 2:] = quants.view(np.uint8)
    return out


def _tensor_type(name: str, data: npt.NDArray[np.generic], ftype: FType) -> int:
    """ggml type per whisper.cpp: vectors, conv biases and positions f32; matrices ``ftype``."""
    if data.ndim < 2 or name.endswith((".positional_embedding", ".conv1.bias", ".conv2.bias")):
        return _T_F32
    if ftype == "q8_0" and data.ndim == 2 and data.shape[-1] % _QK8_0 == 0:
        return _T_Q8_0
    return _T_F16


def _write_tensor(out: BinaryIO, name: str, data: npt.NDArray[np.generic], ftype: FType) -> None:
    """Write one tensor record: n_dims, name length, type, dims (innermost first), name, data."""
    if name.endswith((".conv1.bias", ".conv2.bias")):
        data = data.reshape(-1, 1)
    ttype = _tensor_type(name, data, ftype)
    encoded = name.encode("utf-8")
    out.write(struct.pack("<iii", data.ndim, len(encoded), ttype))
    out.write(struct.pack(f"<{data.ndim}i", *reversed(data.shape)))
    out.write(encoded)
    if ttype == _T_Q8_0:
        for start in range(0, data.shape[0], _Q8_ROWS_PER_CHUNK):
            rows = data[start : start + _Q8_ROWS_PER_CHUNK].astype(np.float32)
            out.write(quantize_q8_0(rows).data)
    else:
        out.write(np.ascontiguousarray(data, "<f4" if ttype == _T_F32 else "<f2").data)


def _hparams(index: dict[str, Ct2Variable], src: BinaryIO, ftype: FType) -> list[int]:
    """The eleven int32 header fields whisper.cpp reads, derived from the tensor shapes."""

    def shape(name: str) -> tuple[int, ...]:
        if name not in index:
            raise ConversionError(f"model.bin has no {name!r}")
        return index[name].shape

    def layers(side: str) -> int:
        return len({m.group(2) for n in index if (m := _LAYER.match(n)) and m.group(1) == side})

    def heads(side: str) -> int:
        return int(_array(src, index[f"{side}/num_heads"]).item())

    n_vocab, n_text_state = shape("decoder/embeddings/weight")
    n_audio_ctx, n_audio_state = shape("encoder/position_encodings/encodings")
    n_text_ctx = shape("decoder/position_encodings/encodings")[0]
    n_mels = shape("encoder/conv1/weight")[1]
    return [
        n_vocab, n_audio_ctx, n_audio_state, heads("encoder"), layers("encoder"),
        n_text_ctx, n_text_state, heads("decoder"), layers("decoder"), n_mels,
        _HEADER_FTYPE[ftype],
    ]  # fmt: skip


def convert(
    source_dir: Path, dest: Path, ftype: FType, model_parts: Sequence[Path] | None = None
) -> None:
    """Write the CTranslate2 Whisper model in ``source_dir`` to ``dest`` as ggml ``ftype``.

    ``model_parts``, when given, are the pieces whose concatenation is ``model.bin``.
    """
    if ftype not in _HEADER_FTYPE:
        raise ConversionError(f"unknown ftype {ftype!r}; choose one of {sorted(_HEADER_FTYPE)}")
    parts = list(model_parts) if model_parts else [source_dir / "model.bin"]
    vocab_txt = source_dir / "vocabulary.txt"
    for required in (*parts, vocab_txt):
        if not required.is_file():
            raise ConversionError(f"{required} is missing; is the model package installed?")
    tokens = read_vocabulary(vocab_txt)
    reader = parts[0].open("rb") if len(parts) == 1 else io.BufferedReader(ConcatReader(parts))
    with cast(BinaryIO, reader) as src:
        index = read_ct2_index(src)
        hparams = _hparams(index, src, ftype)
        filters = mel_filters(n_mels=hparams[9])
        with dest.open("wb") as out:
            out.write(struct.pack("<i", GGML_MAGIC))
            out.write(struct.pack(f"<{len(hparams)}i", *hparams))
            out.write(struct.pack("<ii", *filters.shape))
            out.write(filters.astype("<f4").data)
            out.write(struct.pack("<i", len(tokens)))
            for token in tokens:
                out.write(struct.pack("<i", len(token)))
                out.write(token)
            count = 0
            for name, data in ggml_tensors(src, index):
                _write_tensor(out, name, data, ftype)
                count += 1
    log.info("converted %s to %s (%s, %d tensors)", source_dir, dest, ftype, count)
