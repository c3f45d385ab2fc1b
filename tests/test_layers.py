"""Imports point downward only, and no module imports itself back (issue #13; docs/architecture.md, "Layers").

Walks every ``import`` statement in the package's source, module-level or inside
a function, and resolves it to a flowstyle module. A new top-level module or
package must be given a layer here: that is where its place in the design is decided.
"""

from __future__ import annotations

import ast
from pathlib import Path

import flowstyle

ROOT = Path(flowstyle.__file__).parent

# Layer of each top-level module or package, bottom first. A module may import
# its own layer and the layers below, never above.
LAYERS: dict[str, int] = {
    # 0: leaves every module may use
    "errors": 0, "version": 0, "cpu": 0, "allocator": 0, "threads": 0, "progress": 0, "config": 0,
    "device": 0, "system": 0,
    # 1: the bottom of the media and numerics: decode/encode, optical flow, network definitions
    "io": 1, "flow": 1, "models": 1,
    # 2: weights, scene cuts, losses, tensor conversion at the I/O edge
    "registry": 2, "demo": 2, "scenes": 2, "losses": 2, "tensors": 2,
    # 3: the stylizers and the temporal steps (the Stylizer and TemporalStep seams)
    "stylize": 3, "temporal": 3,
    # 4-5: methods built on them
    "gatys": 4, "metrics": 4, "train": 5,
    # 5: painted keys carried along the flow: plans keys and shots, a FrameSource of propagated pictures
    "keyed": 5,
    # 4: regions (issue #16): segmentation, stable masks, mattes and the region composite, over stylize and flow
    "regions": 4,
    # 6: the one render loop
    "pipeline": 6,
    # 7: the Python API that builds pipelines
    "render": 7, "sheet": 7, "conform": 7,
    # 8: front ends
    "cli": 8, "__main__": 8, "__init__": 8, "studio": 8,
    # 8: segment tasks on a cluster (issue #14), beside the CLI that starts them
    "distributed": 8,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def imports_of(name: str, path: Path) -> set[str]:
    """flowstyle modules ``name`` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "flowstyle"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == "flowstyle":
                target = node.module
            else:
                continue
            subs = {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES}
            found |= subs or {target}
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def layer(name: str) -> int:
    parts = name.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    assert top in LAYERS, f"flowstyle.{top} has no layer: give it one in tests/test_layers.py (and docs/architecture.md)"
    return LAYERS[top]


def test_every_module_has_a_layer() -> None:
    for name in GRAPH:
        layer(name)


def test_imports_point_downward() -> None:
    upward = sorted(f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
                    for a, deps in GRAPH.items() for b in deps if layer(b) > layer(a))
    assert not upward, "\n".join(upward)


def test_no_import_cycles() -> None:
    # Depth-first search; a back edge closes a cycle.
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []
    cycles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(GRAPH[node]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(cycles)


def test_the_walker_sees_imports_inside_functions() -> None:
    """The checker itself: the lazy ``from .registry import fetch`` in the CLI is an edge."""
    assert "flowstyle.registry" in GRAPH["flowstyle.cli"]
    assert "flowstyle.io.reader" in GRAPH["flowstyle.io.formats"]
