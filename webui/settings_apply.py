"""Validating, saving and auditing a change to the gateway's settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gateway.config import ConfigError
from gateway.local_settings import (
    change_settings,
    read_local,
    revert_settings,
    setting_value,
)
from webui.access import actor, layer
from webui.context import web
from webui.forms import apply_form


def save_settings(form: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """Apply the submitted fields; on success keep them on this gateway (the service applies
    them within seconds), audit, and return no errors."""
    ctx = web()
    _, errors, changes = apply_form(ctx.config, form, list(names))
    if errors:
        return errors
    if changes:
        try:
            ctx.config, _ = change_settings(ctx.config,
                                            {name: new for name, (_, new) in changes.items()})
        except ConfigError as exc:
            return {"_": "; ".join(exc.problems)}
        layer().record_config_change(actor(), changes)
    return {}


def revert_section(section: str) -> list[str]:
    """Drop this gateway's own values in ``section``: the config file's apply again."""
    ctx = web()
    before = ctx.config
    names = [n for n in read_local(ctx.config.data_dir) if n.startswith(f"{section}.")]
    if names:
        ctx.config = revert_settings(ctx.config_path, names)
        layer().record_config_change(actor(), {
            name: (setting_value(before, name), setting_value(ctx.config, name))
            for name in names})
    return names
