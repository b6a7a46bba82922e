"""The layering in DESIGN.md: only convviz/ui imports Qt or pyqtgraph; the engine imports NumPy only."""
import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "convviz"
QT = {"PySide6", "pyqtgraph", "shiboken6"}
ORDER = {"engine": 0, "model": 1, "data": 1, "training": 2, "interpret": 2, "export": 2, "ui": 3}


def imports(path: Path) -> set[str]:
    """Top-level names of every module path imports, with relative imports resolved inside convviz."""
    names = set()
    rel = path.relative_to(PACKAGE.parent).with_suffix("").parts
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = rel[: len(rel) - node.level]
                names.add(".".join(base + ((node.module,) if node.module else ())))
            else:
                names.add(node.module)
    return names


def sources():
    return sorted(PACKAGE.rglob("*.py"))


def test_only_ui_imports_qt():
    leaks = [f"{p.relative_to(PACKAGE)}: {n}" for p in sources() if p.relative_to(PACKAGE).parts[0] != "ui"
             for n in imports(p) if n.split(".")[0] in QT]
    assert not leaks, leaks


def test_engine_imports_numpy_only():
    allowed = {"numpy", "threadpoolctl", "__future__"}
    bad = []
    for p in (PACKAGE / "engine").rglob("*.py"):
        for n in imports(p):
            top = n.split(".")[0]
            if top == "convviz" and n.startswith("convviz.engine"):
                continue
            if top == "convviz" or (top not in allowed and top not in sys.stdlib_module_names):
                bad.append(f"{p.name}: {n}")
    assert not bad, bad


def test_imports_point_one_way():
    """ui -> {training, interpret, export} -> {model, data} -> engine: a layer imports only layers below it."""
    bad = []
    for p in sources():
        here = p.relative_to(PACKAGE).parts[0]
        if here not in ORDER:
            continue
        for n in imports(p):
            parts = n.split(".")
            if parts[0] == "convviz" and len(parts) > 1 and parts[1] in ORDER and parts[1] != here:
                if ORDER[parts[1]] >= ORDER[here]:
                    bad.append(f"{p.relative_to(PACKAGE)} imports {n}")
    assert not bad, bad
