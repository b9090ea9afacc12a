"""speech.model = "auto": the model a box can afford, from its board, CPU, cores and memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import ConfigError, parse_config
from gateway.speech import catalogue
from gateway.speech.factory import model_name
from gateway.speech.model_choice import HardwareFacts, choose_model, read_facts

PI5 = "Raspberry Pi 5 Model B Rev 1.0"
PI4 = "Raspberry Pi 4 Model B Rev 1.5"


@pytest.mark.parametrize(
    ("board", "cpu", "cores", "mem_mb", "model"),
    [
        (PI5, "", 4, 7900, "base"),
        (PI5, "", 4, 3950, "base"),
        (PI5, "", 4, 1950, "base"),  # a 2 GB Pi 5 still fits the gateway with base
        (PI4, "", 4, 7800, "tiny.en"),  # base would not keep up on a Pi 4's cores
        (PI4, "", 4, 1900, "tiny.en"),
        ("Raspberry Pi 3 Model B Plus Rev 1.3", "", 4, 900, "tiny.en"),
        (PI5, "", 4, 980, "tiny.en"),  # too little memory, whatever the CPU
        ("Radxa ROCK 5B", "", 8, 16000, "tiny.en"),  # a board the table does not cover
        ("", "AMD EPYC", 2, 24000, "base"),  # a PC or server: no device tree
        ("", "Intel(R) Celeron(R) N4120", 4, 3800, "base"),
        ("", "Intel(R) Atom(TM)", 1, 4000, "tiny.en"),  # one core
        ("", "", 2, 0, "tiny.en"),  # memory unknown: the light model
    ],
)
def test_choice_by_hardware_class(board: str, cpu: str, cores: int, mem_mb: int,
                                  model: str) -> None:
    choice = choose_model(HardwareFacts(board=board, cpu=cpu, cores=cores, mem_mb=mem_mb))
    assert choice.model == model
    assert choice.reason


def test_facts_are_read_from_proc(tmp_path: Path) -> None:
    (tmp_path / "device-tree").mkdir()
    (tmp_path / "device-tree" / "model").write_bytes(PI5.encode() + b"\0")
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nBogoMIPS\t: 108.00\n\n"
                                      f"Revision\t: d04170\nModel\t\t: {PI5}\n")
    (tmp_path / "meminfo").write_text("MemTotal:        8245444 kB\nMemFree:  12 kB\n")
    facts = read_facts(tmp_path)
    assert (facts.board, facts.cpu, facts.mem_mb) == (PI5, PI5, 8052)
    assert facts.cores >= 1
    assert choose_model(facts).model == "base"


def test_missing_proc_files_mean_unknown_and_the_light_model(tmp_path: Path) -> None:
    facts = read_facts(tmp_path)
    assert (facts.board, facts.cpu, facts.mem_mb) == ("", "", 0)
    assert choose_model(facts).model == "tiny.en"


def test_this_machine_has_facts() -> None:
    facts = read_facts()
    assert facts.mem_mb > 0 and facts.cores >= 1


def test_auto_in_the_config_resolves_to_this_box_s_choice() -> None:
    auto = parse_config({"speech": {"model": "auto"}})
    assert model_name(auto) == choose_model(read_facts()).model
    assert model_name(parse_config({"speech": {"model": "auto", "language": "de"}})) == "base"
    assert model_name(parse_config({"speech": {"model": "tiny.en"}})) == "tiny.en"
    with pytest.raises(ConfigError):
        parse_config({"speech": {"model": "small"}})


@pytest.mark.slow
def test_models_install_auto_installs_this_box_s_choice(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = choose_model(read_facts()).model
    assert main(["models", "install", "auto", "--quant", "q8_0",
                 "--models-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith(f"auto: {expected} (")
    assert [(m.name, m.quant) for m in catalogue.installed(tmp_path)] == [(expected, "q8_0")]
