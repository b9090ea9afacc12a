"""Settings changed on the gateway: kept in the state directory, laid over the operator's config
file key by key, validated like the file, revertible, and never fatal when they go stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from gateway.local_settings import (
    SettingsWatch,
    change_settings,
    effective_config,
    local_path,
    read_local,
    revert_settings,
)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n'
                    '[retention]\ntranscript_days = 90\n[site]\nid = "fleet-site"\n')
    return path


def test_changes_override_the_file_key_by_key(config_file: Path) -> None:
    config, before = change_settings(effective_config(config_file),
                                     {"retention.transcript_days": 30})
    assert before == {"retention.transcript_days": 90}
    assert config.retention.transcript_days == 30
    # the operator's file changes later: what was set here wins, the rest follows the file
    config_file.write_text(config_file.read_text().replace("90", "120")
                           .replace("fleet-site", "renamed"))
    merged = effective_config(config_file)
    assert merged.retention.transcript_days == 30
    assert merged.site.id == "renamed"
    assert load_config(config_file).retention.transcript_days == 120
    data_dir = merged.data_dir
    assert read_local(data_dir) == {"retention.transcript_days": 30}
    assert local_path(data_dir).stat().st_mode & 0o777 == 0o640


def test_bad_changes_are_refused_and_nothing_is_written(config_file: Path) -> None:
    config = effective_config(config_file)
    for changes in ({"retention.transcript_days": 0}, {"retention.no_such": 1},
                    {"paths.data_dir": "/elsewhere"}, {"site.id": "bad id!"},
                    {"broker.tls_port": 9883}, {"web.port": 9443}, {"upload.bind": "::"}):
        with pytest.raises(ConfigError):
            change_settings(config, changes)
    assert not local_path(config.data_dir).exists()


def test_a_stale_local_setting_is_skipped_not_fatal(config_file: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    config = effective_config(config_file)
    change_settings(config, {"retention.transcript_days": 30})
    path = local_path(config.data_dir)
    path.write_text(path.read_text() + '\n[speech]\nremoved_in_a_later_version = 1\n'
                    '[broker]\ntls_port = 9883\n')
    merged = effective_config(config_file)
    assert merged.retention.transcript_days == 30
    assert merged.broker.tls_port == 8883  # the file's say only
    assert "removed_in_a_later_version" in caplog.text and "broker.tls_port" in caplog.text
    path.write_text("not [toml")
    assert effective_config(config_file).retention.transcript_days == 90


def test_revert_gives_the_file_its_say_again(config_file: Path) -> None:
    config = effective_config(config_file)
    change_settings(config, {"retention.transcript_days": 30, "site.name": "Main St"})
    config = revert_settings(config_file, ["retention.transcript_days"])
    assert config.retention.transcript_days == 90
    assert config.site.name == "Main St"
    assert read_local(config.data_dir) == {"site.name": "Main St"}


def test_the_watch_notices_either_file(config_file: Path) -> None:
    config = effective_config(config_file)
    watch = SettingsWatch(config_file, config.data_dir)
    assert not watch.changed()
    change_settings(config, {"site.name": "Main St"})
    assert watch.changed()
    assert not watch.changed()
    config_file.write_text(config_file.read_text() + "\n")
    assert watch.changed()
