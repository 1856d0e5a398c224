"""The package's shape: no import cycles between senet_lib's modules, and CONTRIBUTING.md's module
map names every module there is (and none that is not)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "senet_lib"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """``{module: modules of senet_lib it imports}``, counting imports inside functions too (an
    import deferred for speed is still a dependency). The package itself (``senet_lib``, whose
    ``__init__`` only re-exports and holds ``__version__``) is left out."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods if m != "senet_lib"}
    for m in graph:
        path = mods[m]
        package = m.split(".") if path.name == "__init__.py" else m.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else (node.module or "")
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[m] |= {t for t in targets if t in graph and t != m}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (a list of modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state and (found := visit(w)):
                return found
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_senet_lib():
    graph = import_graph()
    assert {"senet_lib.runner", "senet_lib.experiments", "senet_lib.ablations"} <= set(graph)
    assert "senet_lib.ablations" in graph["senet_lib.runner"]        # the graph sees the imports
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_module_map_names_every_module():
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    start = text.index("Library map,")
    end = text.index("\n- `import senet_lib`", start)
    mapped = set(re.findall(r"`([a-z_0-9]+(?:\.py|/))`:", text[start:end]))
    modules = {p.name for p in PKG.glob("*.py") if not p.name.startswith("_")}
    modules |= {p.name + "/" for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert mapped == modules, f"in the map only: {sorted(mapped - modules)}; missing: {sorted(modules - mapped)}"
