"""Settings forms generated from the config schema: each field's label, help, bounds and type
come from ``gateway.config``; submitted values are checked by the same parser as the file."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.config import Config, ConfigError, iter_fields, parse_config
from gateway.local_settings import FILE_ONLY as READ_ONLY


@dataclass(frozen=True)
class FormField:
    """One config setting as a form control."""

    name: str          # dotted, e.g. "retention.raw_audio_days"
    kind: str          # "str", "int", "float", "bool", "list[str]"
    doc: str
    lo: float | None
    hi: float | None
    choices: tuple[str, ...] | None
    pattern: str | None
    value: Any
    read_only: bool
    local: bool = False  #: set on this gateway, overriding the config file

    @property
    def section(self) -> str:
        return self.name.split(".")[0]

    @property
    def key(self) -> str:
        return self.name.split(".")[1]

    @property
    def label(self) -> str:
        return self.key.replace("_", " ").capitalize()

    @property
    def input_id(self) -> str:
        return "f-" + self.name.replace(".", "-").replace("_", "-")

    @property
    def step(self) -> str:
        return "1" if self.kind == "int" else "any"

    @property
    def display(self) -> str:
        if self.kind == "list[str]":
            return "\n".join(self.value)
        if isinstance(self.value, float) and self.value.is_integer():
            return str(int(self.value))
        return str(self.value)

    @property
    def bounds(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f"{_num(self.lo)} to {_num(self.hi)}"
        if self.lo is not None:
            return f"at least {_num(self.lo)}"
        if self.hi is not None:
            return f"at most {_num(self.hi)}"
        return ""


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def fields(config: Config, names: Iterable[str] | None = None,
           local: frozenset[str] = frozenset()) -> list[FormField]:
    """Form fields for the named settings (or sections) with the config's current values;
    ``local`` names those set on this gateway."""
    wanted = list(names) if names is not None else None
    out = []
    for name, item in iter_fields():
        section = name.split(".")[0]
        if wanted is not None and name not in wanted and section not in wanted:
            continue
        meta = item.metadata
        pattern = meta["pattern"].pattern.strip("^$") if meta["pattern"] else None
        out.append(FormField(name, str(item.type), meta["doc"], meta["lo"], meta["hi"],
                             meta["choices"], pattern,
                             getattr(getattr(config, section), name.split(".")[1]),
                             name in READ_ONLY, name in local))
    return out


def sections(config: Config, local: frozenset[str] = frozenset()
             ) -> list[tuple[str, str, list[FormField]]]:
    """(section name, its description, its fields) in declaration order."""
    out = []
    for section in dataclasses.fields(Config):
        doc = (section.type if isinstance(section.type, type) else
               type(getattr(config, section.name))).__doc__ or ""
        out.append((section.name, doc.strip(), fields(config, [section.name], local)))
    return out


def _parse_one(item: FormField, form: Mapping[str, str]) -> tuple[Any, str | None]:
    raw = form.get(item.name)
    if item.kind == "bool":
        return raw in ("on", "true", "1"), None
    if raw is None:  # not sent: unchanged
        return item.value, None
    raw = raw.strip()
    if item.kind == "list[str]":
        return [line.strip() for line in raw.splitlines() if line.strip()], None
    if item.kind == "int":
        try:
            return int(raw), None
        except ValueError:
            return None, "enter a whole number"
    if item.kind == "float":
        try:
            value = float(raw)
        except ValueError:
            return None, "enter a number"
        return (value, None) if math.isfinite(value) else (None, "enter a finite number")
    return raw, None


def apply_form(config: Config, form: Mapping[str, str], names: Iterable[str]
               ) -> tuple[Config, dict[str, str], dict[str, tuple[Any, Any]]]:
    """The config with the submitted fields applied, per-field errors, and what changed.

    Only editable fields in ``names`` are read; the result is validated by ``parse_config``.
    """
    data: dict[str, dict[str, Any]] = {
        s.name: dict(dataclasses.asdict(getattr(config, s.name)))
        for s in dataclasses.fields(Config)}
    errors: dict[str, str] = {}
    changes: dict[str, tuple[Any, Any]] = {}
    for item in fields(config, names):
        if item.read_only:
            continue
        value, problem = _parse_one(item, form)
        if problem:
            errors[item.name] = problem
            continue
        if value != item.value:
            changes[item.name] = (item.value, value)
        data[item.section][item.key] = value
    if errors:
        return config, errors, {}
    try:
        updated = parse_config(data)
    except ConfigError as exc:
        for problem in exc.problems:
            name = problem.split(":")[0]
            errors[name if "." in name else "_"] = problem.split(": ", 1)[-1]
        return config, errors, {}
    return updated, {}, changes
