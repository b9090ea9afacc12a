"""Every program's entry keeps numpy's OpenBLAS on the calling thread, checked in real child
processes: with it a large product starts no threads, without it OpenBLAS starts one a core."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: A program run like the gateway's (through ``run_program``, or not): it multiplies two large
#: matrices and prints how many threads the process then has.
THREADS_PROBE = """
import sys
from pathlib import Path
from gateway.entry import run_program

def product():
    import numpy as np
    a = np.ones((600, 600))
    a @ a
    status = Path("/proc/self/status").read_text().splitlines()
    print(next(line.split()[1] for line in status if line.startswith("Threads:")))
    return 0

sys.exit(run_program(product) if sys.argv[1] == "entry" else product())
"""


def threads_after_a_product(how: str) -> int:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", THREADS_PROBE, how], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True, timeout=60)
    return int(done.stdout.split()[-1])


def test_a_program_multiplies_matrices_on_its_own_thread() -> None:
    assert threads_after_a_product("bare") >= 2  # OpenBLAS left alone starts its threads
    assert threads_after_a_product("entry") == 1


def test_the_command_line_imports_no_numpy_before_its_entry() -> None:
    probe = "import sys, gateway.cli; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], env={"PYTHONPATH": str(ROOT)},
                          cwd=ROOT, capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "False"
