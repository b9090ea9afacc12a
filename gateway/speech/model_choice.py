"""Which catalogue model a box can afford (``speech.model = "auto"``).

:func:`choose_model` is a pure decision on a box's facts; :func:`read_facts` reads them from
``/proc``. The thresholds come from the README's Raspberry Pi table (an estimate from the
measured x86 cost and published Pi figures): base keeps up with a busy store on a Raspberry Pi
5 but not on a Pi 4, and the gateway with base needs about 350 MB, so a box with less than
2 GB of memory keeps tiny.en.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

AUTO = "auto"
MIN_MEM_MB_FOR_BASE = 1800  # a "2 GB" board reports a little under 2048 MB
MIN_CORES_FOR_BASE = 2
_PI = re.compile(r"Raspberry Pi (\d+)")
_PI_WITH_BASE = 5  # Raspberry Pi generation from which base keeps up


@dataclass(frozen=True)
class HardwareFacts:
    """What the choice looks at: the board's name (device tree), the CPU, cores, memory."""

    board: str
    cpu: str
    cores: int
    mem_mb: int


@dataclass(frozen=True)
class Choice:
    """A catalogue model name and why it was chosen, for the log and the status page."""

    model: str
    reason: str


def choose_model(facts: HardwareFacts) -> Choice:
    """tiny.en or base for a box: base where it keeps up and fits, tiny.en elsewhere."""
    if facts.mem_mb < MIN_MEM_MB_FOR_BASE:
        return Choice("tiny.en", f"{facts.mem_mb} MB of memory (base needs "
                      f"{MIN_MEM_MB_FOR_BASE} MB or more)")
    if facts.cores < MIN_CORES_FOR_BASE:
        return Choice("tiny.en", f"{facts.cores} core")
    pi = _PI.search(facts.board)
    if pi:
        generation = int(pi.group(1))
        if generation >= _PI_WITH_BASE:
            return Choice("base", f"{facts.board}: base keeps up")
        return Choice("tiny.en", f"{facts.board}: base would not keep up")
    if facts.board:
        return Choice("tiny.en", f"{facts.board}: an unknown board, the light model to be safe")
    return Choice("base", f"{facts.cpu or 'unknown CPU'}, {facts.cores} cores, "
                  f"{facts.mem_mb} MB: base keeps up")


def read_facts(proc: Path = Path("/proc")) -> HardwareFacts:
    """This box's facts; a missing file counts as unknown (empty, or zero)."""
    return HardwareFacts(
        board=_read(proc / "device-tree" / "model").rstrip("\0").strip(),
        cpu=_cpu_name(_read(proc / "cpuinfo")),
        cores=os.cpu_count() or 1,
        mem_mb=_mem_mb(_read(proc / "meminfo")),
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _cpu_name(cpuinfo: str) -> str:
    """The CPU's name from /proc/cpuinfo (``model name`` on x86, ``Model`` on a Pi)."""
    for key in ("model name", "Model", "Hardware"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
        if match:
            return match.group(1).strip()
    return ""


def _mem_mb(meminfo: str) -> int:
    match = re.search(r"^MemTotal:\s*(\d+)\s*kB", meminfo, re.MULTILINE)
    return int(match.group(1)) // 1024 if match else 0
