"""Settings changed on the gateway itself, kept apart from the operator's config file.

The config file (``/etc/salestag/gateway.toml``) belongs to whoever manages the box: Ansible
writes it, and the service may not (``ProtectSystem=strict``). Changes made on the box (the web
UI's settings and setup wizard) go to ``settings.toml`` in the state directory instead, one key at
a time. :func:`effective_config` lays them over the file: a key set here wins until it is
reverted, and every other key follows the file. A key the file's schema no longer knows, or a
value it no longer accepts, is skipped with a warning rather than stopping the gateway.
"""

from __future__ import annotations

import logging
import time
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gateway.config import (
    Config,
    ConfigError,
    iter_fields,
    load_config,
    parse_config,
    render_toml,
    toml_value,
)
from gateway.crypto.keyfiles import write_file_atomically

log = logging.getLogger(__name__)

LOCAL_FILE = "settings.toml"
#: Settings only the config file may change: where the state (and this file) lives, and the
#: addresses badges and browsers were given. Changing those from the box would strand paired
#: badges or lock the installer out, and the broker has to be restarted to take them.
FILE_ONLY = frozenset({"paths.data_dir", "web.bind", "web.port", "upload.bind", "upload.port"}
                      | {name for name, _ in iter_fields() if name.startswith("broker.")})


def local_path(data_dir: Path) -> Path:
    return data_dir / LOCAL_FILE


def read_local(data_dir: Path) -> dict[str, Any]:
    """The settings changed on this gateway, as ``{"section.key": value}``."""
    try:
        data = tomllib.loads(local_path(data_dir).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        log.warning("ignoring %s: not valid TOML (%s)", local_path(data_dir), exc)
        return {}
    return {f"{section}.{key}": value for section, table in data.items()
            if isinstance(table, dict) for key, value in table.items()}


def effective_config(path: Path | None) -> Config:
    """The config file (defaults when there is none) with this gateway's own changes on top."""
    base = load_config(path) if path is not None else Config()
    local = read_local(base.data_dir)
    if not local:
        return base
    config = base
    for name, value in local.items():  # one at a time, so one bad key spoils nothing else
        if name in FILE_ONLY:
            log.warning("ignoring %s from %s: only the config file sets it", name,
                        local_path(base.data_dir))
            continue
        try:
            config = _with(config, {name: value})
        except ConfigError as exc:
            log.warning("ignoring %s from %s: %s", name, local_path(base.data_dir), exc)
    return config


def change_settings(config: Config, changes: Mapping[str, Any]) -> tuple[Config, dict[str, Any]]:
    """Validate ``changes`` against ``config`` and record them on this gateway; returns the new
    config and the previous values. Raises ConfigError (nothing written) on a bad key or value."""
    refused = sorted(set(changes) & FILE_ONLY)
    if refused:
        raise ConfigError([f"{name} can only be changed in the config file" for name in refused])
    updated = _with(config, changes)
    before = {name: setting_value(config, name) for name in changes}
    local = read_local(config.data_dir) | {name: setting_value(updated, name) for name in changes}
    _write(config.data_dir, local)
    return updated, before


def revert_settings(path: Path | None, names: Iterable[str]) -> Config:
    """Forget this gateway's own value of each named setting; returns the config it leaves."""
    config = effective_config(path)
    local = read_local(config.data_dir)
    remaining = {name: value for name, value in local.items() if name not in set(names)}
    if remaining != local:
        _write(config.data_dir, remaining)
    return effective_config(path)


def _with(config: Config, changes: Mapping[str, Any]) -> Config:
    data = tomllib.loads(render_toml(config, with_docs=False))
    for name, value in changes.items():
        section, _, key = name.partition(".")
        if section not in data or key not in data[section]:
            raise ConfigError([f"unknown setting {name}"])
        data[section][key] = value
    return parse_config(data)


def setting_value(config: Config, name: str) -> Any:
    """The value of ``section.key`` in ``config``."""
    section, _, key = name.partition(".")
    return getattr(getattr(config, section), key)


def _write(data_dir: Path, local: Mapping[str, Any]) -> None:
    """Write the changed settings as TOML, atomically, in the schema's order."""
    lines = ["# Settings changed on this gateway (web UI); they override the config file."]
    current = ""
    for name, _ in iter_fields():
        if name not in local:
            continue
        section, key = name.split(".")
        if section != current:
            lines.append(f"\n[{section}]")
            current = section
        lines.append(f"{key} = {toml_value(local[name])}")
    write_file_atomically(local_path(data_dir), ("\n".join(lines) + "\n").encode(), 0o640,
                          replace=True)


class SettingsWatch:
    """Notices a changed config file or settings file (by size and modification time)."""

    def __init__(self, config_file: Path | None, data_dir: Path) -> None:
        self.files = [f for f in (config_file, local_path(data_dir)) if f is not None]
        self.seen = self._stamp()
        self.applied_at = time.time()

    def _stamp(self) -> list[tuple[int, int] | None]:
        stamps: list[tuple[int, int] | None] = []
        for path in self.files:
            try:
                info = path.stat()
                stamps.append((info.st_mtime_ns, info.st_size))
            except OSError:
                stamps.append(None)
        return stamps

    def changed(self) -> bool:
        stamp = self._stamp()
        if stamp == self.seen:
            return False
        self.seen = stamp
        return True
