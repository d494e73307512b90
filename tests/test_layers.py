"""The package's layering, checked on the source: imports point one way, and none cycles.

::

    cli                       (top: may use everything below)
    service/  distributed/    (the web service and dashboard; Dask studies: side by side)
    jobs/  notebook/          (durable jobs; the notebook surfaces: side by side)
    batch/                    (options, inputs, the run loop, summaries, results)
    engine/  store/  frames/  (side by side: none imports another)
    rdap/                     (pure RDAP: no I/O)
    errors, models, schemas, columns, _version, _data, _gc, _aio   (the bottom)

``simulator/`` stands apart: it imports nothing of rdaplab but ``rdaplab._data``. Every
import counts, lazy ones inside functions and ``TYPE_CHECKING`` ones included, so an
upward import cannot hide in a function body.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rdaplab"

BOTTOM = {"_version", "_data", "_gc", "_aio", "errors", "models", "schemas", "columns"}
RANK = {
    "rdap": 1,
    "engine": 2,
    "store": 2,
    "frames": 2,
    "batch": 3,
    "jobs": 4,
    "distributed": 5,
    "notebook": 4,
    "service": 5,
    "cli": 6,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(module: str, path: Path) -> Iterator[str]:
    """Every rdaplab module ``module`` imports (``from a import b`` names ``a.b`` when
    that is a module, else ``a``)."""
    modules = _modules()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "rdaplab":
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "rdaplab":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield sub if sub in modules else base


def _layer(module: str) -> tuple[str, int]:
    """(group, rank) of a module: its subpackage (or bottom/top-level name) and level."""
    parts = module.split(".")
    if len(parts) == 1:  # rdaplab itself: the public API re-exports every layer
        return "api", 99
    head = parts[1]
    if head in BOTTOM:
        return "bottom", 0
    if head == "simulator":
        return "simulator", -1
    if head == "__main__":
        return "api", 99
    return head, RANK[head]


def _edges() -> list[tuple[str, str]]:
    return [
        (module, target)
        for module, path in sorted(_modules().items())
        for target in _imports(module, path)
        if target != module
    ]


def test_every_module_has_a_layer() -> None:
    for module in _modules():
        _layer(module)  # a KeyError names a module outside the drawing


def test_imports_point_down() -> None:
    wrong = []
    for module, target in _edges():
        group, rank = _layer(module)
        tgroup, trank = _layer(target)
        if group == "api" or group == tgroup:
            continue
        if group == "simulator":
            ok = target == "rdaplab._data"
        elif tgroup == "simulator":
            ok = group in ("cli", "api")  # the demo and `rdaplab simulate` serve it
        elif tgroup == "api":
            ok = group == "cli"  # the CLI is a user of the public API
        else:
            ok = trank < rank
        if not ok:
            wrong.append(f"{module} ({group}) imports {target} ({tgroup})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def _cycles(edges: list[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    # The package itself re-exports everything; leave it out or every module would be
    # "in a cycle" with it through `import rdaplab`-free facades.
    edges = [(a, b) for a, b in _edges() if a != "rdaplab" and b != "rdaplab"]
    assert _cycles(edges) == []


def test_the_checks_catch_what_they_should() -> None:
    assert _cycles([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == [["a", "b", "c"]]
    assert _layer("rdaplab.engine.scheduler") == ("engine", 2)
    assert _layer("rdaplab.schemas") == ("bottom", 0)
    with pytest.raises(KeyError):
        _layer("rdaplab.nowhere.module")
