"""The strict config: documented defaults, unknown keys refused, bounds enforced."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import Config, ConfigError, iter_fields, load_config, parse_config, render_toml


def test_every_setting_is_documented() -> None:
    for name, item in iter_fields():
        assert item.metadata["doc"].strip(), name


def test_defaults_round_trip_through_toml(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(render_toml(Config()))
    assert load_config(path) == Config()


@pytest.mark.parametrize(("data", "problem"), [
    ({"site": {"idd": "x"}}, "unknown key site.idd"),
    ({"sight": {}}, "unknown section [sight]"),
    ({"broker": {"port": 0}}, "below the minimum"),
    ({"speech": {"short_beam_size": 0}}, "speech.short_beam_size: 0 is below the minimum 1"),
    ({"speech": {"short_beam_size": 9}}, "speech.short_beam_size: 9 is above the maximum 8"),
    ({"broker": {"port": "1883"}}, "expected int"),
    ({"speech": {"quant": "q4"}}, "not one of"),
    ({"site": {"id": "a/b"}}, "'a/b' must be a site id (part of every badge topic) of 1 to 64 "
                              "letters, digits, '-' or '_'"),
    ({"upstream": {"enabled": 1}}, "expected bool"),
    ({"speech": {"threads": True}}, "got a boolean"),
    ({"tagger": {"competitors": ["ok", 3]}}, "list of strings"),
])
def test_bad_values_are_refused(data: dict[str, dict[str, object]], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert problem in str(err.value)


def test_each_text_rule_is_described_in_its_own_words() -> None:
    described = {name: item.metadata["expected"] for name, item in iter_fields()
                 if item.metadata["pattern"]}
    assert len(described) >= 8
    assert all(described.values())
    assert len(set(described.values())) == len(described), described


@pytest.mark.parametrize(("name", "value", "rule"), [
    ("speech.language", "english", "auto or a language code of 2 or 3 lowercase letters"),
    ("broker.user", "-mosquitto", "a system account name: a lowercase letter or '_'"),
    ("broker.user", "Mosquitto", "a system account name"),
    ("capture.badge_id", "mic 1", "a badge id of 1 to 64 letters"),
    ("consent.disclosure_version", "v1.2", "a version label (e.g. v1) of 1 to 64 letters"),
    ("broker.client_id", "x" * 65, "an MQTT client id of 1 to 64 letters"),
])
def test_a_refused_text_names_its_fields_rule(name: str, value: str, rule: str) -> None:
    section, key = name.split(".")
    with pytest.raises(ConfigError) as err:
        parse_config({section: {key: value}})
    (problem,) = err.value.problems
    assert problem.startswith(f"{name}: {value!r} must be {rule}")


def test_every_text_rule_is_named_when_broken() -> None:
    for name, item in iter_fields():
        if item.metadata["pattern"]:
            section, key = name.split(".")
            with pytest.raises(ConfigError) as err:
                parse_config({section: {key: "no/such form!"}})
            assert err.value.problems == [
                f"{name}: 'no/such form!' must be {item.metadata['expected']}"]


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"site": {"x": 1, "y": 2}, "broker": {"port": 99999}})
    assert len(err.value.problems) == 3


def test_float_settings_accept_integers() -> None:
    config = parse_config({"ingest": {"session_timeout_s": 10}})
    assert config.ingest.session_timeout_s == 10.0
    assert isinstance(config.ingest.session_timeout_s, float)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True,
                          text=True)


def test_check_config_command(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[site]\nid = "store-9"\n')
    assert run_cli("check-config", str(good)).returncode == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('[site]\nid = "store-9"\ncolour = "red"\n')
    result = run_cli("check-config", str(bad))
    assert result.returncode == 2
    assert "unknown key site.colour" in result.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[site\n")
    result = run_cli("check-config", str(broken))
    assert result.returncode == 2 and "not valid TOML" in result.stderr


def _check_help(parser: argparse.ArgumentParser, path: str) -> int:
    checked = 0
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help, f"{path} {action.dest} has no help"
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                assert command.description, f"{path} {name} has no description"
                checked += 1 + _check_help(command, f"{path} {name}")
    return checked


def test_every_command_and_option_has_help() -> None:
    from gateway.cli import build_parser

    assert _check_help(build_parser(), "salestag-gateway") >= 10
