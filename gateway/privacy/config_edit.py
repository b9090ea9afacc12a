"""Changing settings in the config file: validated like any config, written atomically."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, load_config, parse_config, render_toml


def apply_changes(path: Path, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply ``{"section.key": value}`` to the config file; returns the previous values.

    Raises ConfigError (nothing written) if a key is unknown or a value is refused.
    """
    current = load_config(path)
    data = tomllib.loads(render_toml(current, with_docs=False))
    before: dict[str, Any] = {}
    for name, value in changes.items():
        section, _, key = name.partition(".")
        if section not in data or key not in data[section]:
            raise ConfigError([f"unknown key {name}"])
        before[name] = data[section][key]
        data[section][key] = value
    updated = parse_config(data)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_toml(updated), encoding="utf-8")
    os.replace(tmp, path)
    return before
