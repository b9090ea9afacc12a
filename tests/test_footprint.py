"""What keeps the gateway's processes small and off the cores whisper.cpp needs: the allocator
pinned and numpy's OpenBLAS kept on one thread by every program's entry, checked in real child
processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: A program run like the gateway's (through ``run_program``, or not): it frees one 20 MiB block,
#: then uses and frees sixteen 1 MiB blocks, and prints how much of its heap stays resident (kB).
HEAP_PROBE = """
import ctypes, sys
from pathlib import Path
from gateway.entry import run_program

def heap_kb():
    lines = Path("/proc/self/smaps").read_text().splitlines()
    for n, line in enumerate(lines):
        if line.endswith("[heap]"):
            return next(int(l.split()[1]) for l in lines[n:] if l.startswith("Rss:"))
    return 0

def churn():
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free(libc.malloc(20 << 20))
    before = heap_kb()
    blocks = [libc.malloc(1 << 20) for _ in range(16)]
    for block in blocks:
        ctypes.memset(block, 1, 1 << 20)
    for block in blocks:
        libc.free(block)
    print(heap_kb() - before)
    return 0

sys.exit(run_program(churn) if sys.argv[1] == "entry" else churn())
"""


#: The same, multiplying two large matrices with numpy, then printing the process's threads.
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


def probe_figure(probe: str, how: str) -> int:
    """The number a probe program prints last, run ``bare`` or through the ``entry``."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", probe, how], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True, timeout=60)
    return int(done.stdout.split()[-1])


def test_a_program_keeps_no_heap_after_a_large_block_passed_through() -> None:
    # glibc left alone keeps the 1 MiB blocks' heap; the gateway's entry gives every block back
    assert probe_figure(HEAP_PROBE, "bare") >= 12 * 1024
    assert probe_figure(HEAP_PROBE, "entry") < 1024


def test_a_program_multiplies_matrices_on_its_own_thread() -> None:
    assert probe_figure(THREADS_PROBE, "bare") >= 2  # OpenBLAS left alone starts its threads
    assert probe_figure(THREADS_PROBE, "entry") == 1


def test_the_command_line_imports_no_numpy_before_its_entry() -> None:
    probe = "import sys, gateway.cli; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], env={"PYTHONPATH": str(ROOT)},
                          cwd=ROOT, capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "False"


def test_the_web_ui_and_upload_server_load_no_model_runtime_nor_numpy(tmp_path: Path) -> None:
    """The faces' processes import neither onnxruntime, tokenizers nor whisper.cpp's binding:
    only the service holds models. Nor numpy (~8 MB PSS a face), which sqlite-utils would import:
    their database, migrations included, works without it."""
    probe = ("import sys, webui.faces, webui.server, webui.badge_server\n"
             "import webui.app, webui.badge_api\n"
             "from pathlib import Path\n"
             "from gateway.store.db import open_db\n"
             "open_db(Path(sys.argv[1])).close()\n"
             "print(sorted(m for m in ('onnxruntime', 'tokenizers', 'pywhispercpp', 'numpy')"
             " if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "gateway.db")],
                          env={"PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=60)
    assert done.stdout.split("\n")[-2] == "[]"
    assert (tmp_path / "gateway.db").stat().st_size > 0


def test_the_service_models_load_without_download_or_tokenizer_libraries(
    model_path: Path, text_models: Path
) -> None:
    """The loaded speech and text models, used once, leave out what the service never needs:
    pywhispercpp's model downloader (requests, tqdm: ~6 MB PSS) and the tokenizers library
    (~10 MB PSS; the WordPiece tokenizer is plain Python)."""
    probe = ("import sys\nfrom pathlib import Path\nimport numpy as np\n"
             "from gateway.speech.whispercpp import WhisperCppEngine\n"
             "from gateway.semantic.embedder import Embedder\n"
             "engine = WhisperCppEngine(Path(sys.argv[1]), threads=1)\n"
             "engine.transcribe(np.zeros(16000, np.float32))\n"
             "vectors = Embedder.load(Path(sys.argv[2]))(['Is that a fair price?'])\n"
             "assert vectors.shape == (1, 384)\n"
             "print(sorted(m for m in ('requests', 'tqdm', 'tokenizers', 'pywhispercpp')"
             " if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe, str(model_path), str(text_models)],
                          env={"PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=120)
    assert done.stdout.split("\n")[-2] == "[]"
