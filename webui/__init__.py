"""The gateway's faces: the web UI and the badges' upload server, each in its own process.

Neither needs numpy, yet sqlite-utils imports it whenever it is installed (only to map numpy's
scalar types to column types, which the faces never write): importing sqlite-utils here, first,
with numpy hidden keeps numpy out of both processes (~8 MB PSS a face). A process that has
imported either already (the service, a test run) is left as it is.
"""

from __future__ import annotations

import importlib
import sys


def _import_sqlite_utils_without_numpy() -> None:
    if "sqlite_utils" in sys.modules or "numpy" in sys.modules:
        return
    sys.modules["numpy"] = None  # type: ignore[assignment]  # makes `import numpy` fail
    try:
        importlib.import_module("sqlite_utils")
    finally:
        del sys.modules["numpy"]


_import_sqlite_utils_without_numpy()
