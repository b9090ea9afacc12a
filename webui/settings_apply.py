"""Validating, saving and auditing a change to the gateway's settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from webui.access import actor, layer
from webui.config_file import save_config
from webui.context import web
from webui.forms import apply_form


def save_settings(form: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """Apply the submitted fields; on success write the file, audit, and return no errors."""
    ctx = web()
    updated, errors, changes = apply_form(ctx.config, form, list(names))
    if errors:
        return errors
    if changes:
        path = save_config(ctx.config_path, updated)
        ctx.config_path = path
        ctx.config = updated
        layer().record_config_change(actor(), changes)
    return {}
