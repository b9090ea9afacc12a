"""The import graph keeps the layers of ../shared/ARCHITECTURE.md: the core (gateway/) never
imports the web UI, no modules import each other in a circle, and each area imports only the
areas below it (the table here; the README's Layout section says why the extra arrows exist).

Every import counts, also one inside a function or under ``TYPE_CHECKING``: a lazy import is
still an arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "webui")

#: Modules any area may import: the error base class, the settings model, systemd's credential
#: lookup and the package itself (its version).
SHARED = frozenset({"gateway", "gateway.errors", "gateway.config", "gateway.credentials"})
ANY = frozenset({"*"})
#: The settings check a smart tracker's spec with the tagger's own parser (pure logic, no I/O).
SHARED_MAY_IMPORT = {"gateway.config": frozenset({"gateway.intel"})}

#: area -> the areas it may import besides itself and SHARED ("*": any area of the core).
LAYERS: dict[str, frozenset[str]] = {
    # pure logic
    "gateway.protocol": frozenset(),
    "gateway.intel": frozenset(),
    # adapters
    "gateway.files": frozenset(),
    "gateway.crypto": frozenset({"gateway.files"}),
    "gateway.mqtt_socket": frozenset(),
    "gateway.logsetup": frozenset(),
    "gateway.notify": frozenset(),
    "gateway.store": frozenset({"gateway.crypto", "gateway.intel"}),
    "gateway.broker": frozenset({"gateway.crypto", "gateway.protocol", "gateway.store"}),
    "gateway.local_settings": frozenset({"gateway.crypto"}),
    # areas over the store
    "gateway.accounts": frozenset({"gateway.store", "gateway.crypto"}),
    "gateway.pki": frozenset({"gateway.store", "gateway.crypto", "gateway.broker",
                              "gateway.protocol"}),
    "gateway.sync": frozenset({"gateway.store", "gateway.crypto", "gateway.intel"}),
    "gateway.privacy": frozenset({"gateway.store", "gateway.crypto", "gateway.intel",
                                  "gateway.protocol", "gateway.sync",
                                  "gateway.local_settings", "gateway.accounts"}),
    "gateway.semantic": frozenset({"gateway.intel", "gateway.files"}),
    "gateway.speech": frozenset({"gateway.intel", "gateway.store", "gateway.semantic",
                                 "gateway.files"}),
    "gateway.ingest": frozenset({"gateway.protocol", "gateway.store", "gateway.crypto",
                                 "gateway.broker", "gateway.mqtt_socket", "gateway.privacy"}),
    "gateway.health": frozenset({"gateway.crypto", "gateway.store", "gateway.ingest"}),
    # wiring and lifecycle
    "gateway.supervisor": frozenset(),
    "gateway.entry": frozenset({"gateway.logsetup"}),
    "gateway.children": frozenset({"gateway.entry"}),
    "gateway.worker": ANY,
    "gateway.appliance": ANY,
    "gateway.service": ANY,
    "gateway.cli": ANY,
    "gateway.__main__": ANY,
    # the face
    "webui": ANY,
}


def module_names() -> dict[str, Path]:
    """Every module of our packages by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ours that ``name`` imports, anywhere in its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            for alias in node.names:
                child = f"{base}.{alias.name}"
                targets.add(child if child in known else base)
    ours = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            ours.add(target)
    return ours


def import_graph() -> dict[str, set[str]]:
    known = module_names()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def area(module: str) -> str:
    """The row of LAYERS a module belongs to (its folder, or the module itself)."""
    parts = module.split(".")
    if parts[0] == "webui":
        return "webui"
    if len(parts) > 1 and (ROOT / parts[0] / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports_of_every_kind() -> None:
    graph = import_graph()
    assert "gateway.pki.webcert" in graph["webui.server"]  # from-import at the top
    assert "gateway.speech.factory" in graph["gateway.service"]  # inside a function
    assert "gateway.privacy.context" in graph["gateway.ingest.runner"]  # under TYPE_CHECKING


def test_the_core_never_imports_the_web_ui() -> None:
    arrows = sorted(f"{source} -> {target}" for source, targets in import_graph().items()
                    if source.startswith("gateway") for target in targets
                    if target.startswith("webui"))
    assert arrows == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert cycles(import_graph()) == []


def test_a_circle_would_be_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_every_area_imports_only_the_areas_below_it() -> None:
    graph = import_graph()
    unplaced = sorted({area(m) for m in graph} - set(LAYERS) - SHARED)
    assert unplaced == [], "add these to the layer table (and to the README's Layout section)"
    wrong = []
    for source, targets in graph.items():
        allowed = LAYERS.get(area(source), SHARED_MAY_IMPORT.get(source, frozenset()))
        for target in targets:
            to = area(target)
            if to == area(source) or to in SHARED or target in SHARED:
                continue
            if to.startswith("webui") or ("*" not in allowed and to not in allowed):
                wrong.append(f"{source} -> {target}")
    assert wrong == []


def test_the_shared_modules_import_nothing_of_ours_but_each_other() -> None:
    graph = import_graph()
    extra = {name: sorted(t for t in graph[name] - SHARED
                          if area(t) not in SHARED_MAY_IMPORT.get(name, frozenset()))
             for name in SHARED}
    assert {name: targets for name, targets in extra.items() if targets} == {}


def test_no_face_runs_sql() -> None:
    """The CLI and the web UI call the core; SQL stays in the store and the areas over it."""
    faces = [*(ROOT / "webui").rglob("*.py"), *(ROOT / "gateway" / "cli").rglob("*.py")]
    calls = sorted(
        f"{path.relative_to(ROOT)}:{node.lineno} .{node.func.attr}()"
        for path in faces for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("execute", "executescript", "executemany", "query"))
    assert calls == []
