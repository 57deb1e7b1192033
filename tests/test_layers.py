"""The package's layers, measured from the sources: no import cycle, every import points down.

Imports are read with :mod:`ast`, module level and inside functions alike (an import inside a
function is still a dependency at run time); only ``if TYPE_CHECKING:`` blocks are left out, since
they never run. The layer table is the one docs/design.md draws.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dqaudit"

#: Bottom to top; a module may import its own layer's modules and any layer below, never one above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("dqaudit",),  # the package root only re-exports lazily; it imports nothing eagerly
    ("dqaudit.errors", "dqaudit.text", "dqaudit.io", "dqaudit.findings", "dqaudit.yamlio", "dqaudit.cache",
     "dqaudit.progress", "dqaudit.config", "dqaudit.parallel", "dqaudit.memory"),
    ("dqaudit.data",),
    ("dqaudit.context",),
    ("dqaudit.features", "dqaudit.dedup", "dqaudit.agreement", "dqaudit.pii", "dqaudit.masking",
     "dqaudit.policies"),
    ("dqaudit.checkers",),
    ("dqaudit.registry",),
    ("dqaudit.pipeline", "dqaudit.scoring"),
    ("dqaudit.split", "dqaudit.records", "dqaudit.export", "dqaudit.publish"),
    ("dqaudit.engines",),
    ("dqaudit.api",),
    ("dqaudit.reports", "dqaudit.history", "dqaudit.regressions", "dqaudit.alerts"),
    ("dqaudit.cli", "dqaudit.commands", "dqaudit.terminal", "dqaudit.scaffold", "dqaudit.__main__"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def imports_of(source: str, name: str, is_package: bool, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that module ``name`` imports anywhere
    (relative imports and submodules resolved)."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_block(node):
            for child in getattr(node, "orelse", []):
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import mod`` depends on pkg.mod; ``from mod import f`` on mod
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return {m for m in found if m in modules and m != name}


def unresolved_imports() -> list[str]:
    """``dqaudit`` imports that name no module of the package: typos the graph would silently drop."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    bad = []
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dqaudit"):
                base = node.module or ""
            else:
                continue
            if base not in files:
                bad.append(f"{name} imports from {base}")
    return sorted(bad)


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {name: imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py", modules)
            for name, path in files.items()}


def layer_of(module: str) -> int:
    best = -1, -1  # (length of the matching prefix, layer)
    for rank, layer in enumerate(LAYERS):
        for prefix in layer:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[0]:
                best = len(prefix), rank
    if best[1] < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS and docs/design.md")
    return best[1]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_the_reader_counts_imports_inside_functions_but_not_type_checking_blocks() -> None:
    source = "import p.a\ndef f():\n    from .b import c\nif TYPE_CHECKING:\n    from .d import e\n"
    modules = {"p.a", "p.b", "p.b.c", "p.d", "p.m"}
    assert imports_of(source, "p.m", False, modules) == {"p.a", "p.b.c"}


def test_cycle_finder_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_package_import_resolves() -> None:
    assert unresolved_imports() == []


def test_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_every_import_points_down_the_layers() -> None:
    upward = sorted(f"{a} (layer {layer_of(a)}) imports {b} (layer {layer_of(b)})"
                    for a, targets in import_graph().items() for b in targets
                    if layer_of(b) > layer_of(a))
    assert upward == []


def test_no_checker_imports_another_checker() -> None:
    graph = import_graph()
    shared = {"dqaudit.checkers", "dqaudit.checkers.base"}
    crossing = sorted(f"{a} imports {b}" for a, targets in graph.items() if a.startswith("dqaudit.checkers.")
                      for b in targets if b.startswith("dqaudit.checkers.") and b not in shared)
    assert crossing == []


def test_the_design_page_draws_these_layers() -> None:
    """Row k of the layer table on docs/design.md names exactly the modules of LAYERS[k] (k >= 1)."""
    design = (PACKAGE.parent / "docs" / "design.md").read_text(encoding="utf-8")
    rows = [line for line in design.splitlines() if line.startswith("| ") and line[2:3].isdigit()]
    assert len(rows) == len(LAYERS) - 1
    for row, layer in zip(rows, LAYERS[1:], strict=True):
        named = set(re.findall(r"`([\w/]+?)(?:\.py|/)`", row.split("|")[2]))
        assert named == {m.removeprefix("dqaudit.").replace(".", "/") for m in layer}, row[:40]


@pytest.mark.parametrize("module", sorted(import_graph()))
def test_every_module_has_a_layer(module: str) -> None:
    layer_of(module)


if __name__ == "__main__":  # python tests/test_layers.py: print the cycles and upward imports
    graph = import_graph()
    for component in cycles(graph):
        print("cycle:", " ".join(component))
    for a, targets in sorted(graph.items()):
        for b in sorted(targets):
            if layer_of(b) > layer_of(a):
                print(f"up: {a} -> {b}")
