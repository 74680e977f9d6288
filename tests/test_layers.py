"""The layers import one way: a walk of every import in the package, checked against the rule.

::

    vocabulary  errors, choices                 the standard library only
    core        the convolution (NumPy; Dask)   vocabulary
    kernels     kernels and their facts         vocabulary, core
    imageio     reading and writing images      vocabulary, core; Pillow, tifffile
    pipeline    images through chains           vocabulary, core, kernels, imageio; Pillow
    terminal    what people see (Rich)          everything above; Rich
    cli         the commands (Click)            everything; Click

The package's ``__init__`` may name the core (its lazy Python API) and ``__main__`` the
command line. Every import counts: at the top of a module, inside a function (imported
late, for start-up time) or for type checking only. Nothing is imported to check it.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY

LAYERS = ("vocabulary", "core", "kernels", "imageio", "pipeline", "terminal", "cli")
"""Lowest first: each may import the ones before it (and itself), as limited below."""

MAY_IMPORT: dict[str, set[str]] = {
    "vocabulary": {"vocabulary"},
    "core": {"vocabulary", "core"},
    "kernels": {"vocabulary", "core", "kernels"},
    "imageio": {"vocabulary", "core", "imageio"},
    "pipeline": {"vocabulary", "core", "kernels", "imageio", "pipeline"},
    "terminal": {"vocabulary", "core", "kernels", "imageio", "pipeline", "terminal"},
    "cli": set(LAYERS),
    "package": {"vocabulary", "core"},
    "entry": {"cli"},
}
"""The layers of convcli's own modules each may import."""

THIRD_PARTY: dict[str, set[str]] = {
    "vocabulary": set(),
    "core": {"numpy", "dask", "threadpoolctl"},
    "kernels": {"numpy"},
    "imageio": {"numpy", "PIL", "tifffile"},
    "pipeline": {"numpy", "PIL", "distributed"},
    "terminal": {"numpy", "PIL", "rich"},
    "cli": {"click"},
    "package": set(),
    "entry": set(),
}
"""The packages outside the standard library each layer may import."""


@dataclass(frozen=True)
class Import:
    """One import statement: who imports what, and where."""

    module: str
    """The importing module, e.g. ``convcli.core.methods``."""
    target: str
    """The module imported, e.g. ``numpy.typing`` or ``convcli.core.params``."""
    line: int
    eager: bool
    """At the module's top level, run when it is imported (not in a function, not for type
    checking only)."""


def layer_of(module: str, package: str = "convcli") -> str:
    """The layer of one of the package's modules."""
    parts = module.split(".")
    if parts == [package]:
        return "package"
    if parts[1:] == ["__main__"]:
        return "entry"
    if parts[1] in LAYERS:
        return parts[1]
    return "vocabulary"  # a module of its own at the top: errors, choices


def module_name(path: Path, root: Path) -> str:
    """The dotted name of the module at `path` in the package whose folder is `root`."""
    relative = path.relative_to(root.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(root: Path) -> Iterator[Import]:
    """Every import in the package whose folder is `root`, absolute or relative."""
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        yield from _imports_in(tree, module, is_package=path.name == "__init__.py")


def _imports_in(tree: ast.Module, module: str, *, is_package: bool) -> Iterator[Import]:
    def visit(node: ast.AST, eager: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(module, alias.name, child.lineno, eager)
            elif isinstance(child, ast.ImportFrom):
                for target in _from_targets(child, module, is_package=is_package):
                    yield Import(module, target, child.lineno, eager)
            elif _runs_later(child):
                yield from visit(child, eager=False)
            else:
                yield from visit(child, eager)

    yield from visit(tree, eager=True)


def _from_targets(node: ast.ImportFrom, module: str, *, is_package: bool) -> list[str]:
    """The modules a ``from ... import`` names: the module, or its submodules when the names
    are modules of a package (``from convcli.pipeline import sheet``)."""
    base = node.module or ""
    if node.level:  # relative: resolved against the importing module's package
        package = module.split(".")
        if not is_package:
            package = package[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base] if base else package)
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def _runs_later(node: ast.AST) -> bool:
    """Whether the imports in `node` are not run with its module: a function's body, or a
    block for type checkers only (``if TYPE_CHECKING:``)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        return True
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def broken_rules(root: Path, package: str = "convcli") -> list[str]:
    """What breaks the layering in the package whose folder is `root`: one line each."""
    modules = {module_name(path, root) for path in root.rglob("*.py")}
    found: list[str] = []
    graph: dict[str, set[str]] = {}
    for statement in imports(root):
        layer = layer_of(statement.module, package)
        where = f"{statement.module}:{statement.line}"
        top = statement.target.split(".")[0]
        if top == package:
            # Importing any module runs the package's __init__ first: importing it is free.
            # A name imported from a module (``from x import name``) is not a module.
            if statement.target == package or statement.target not in modules:
                continue
            target_layer = layer_of(statement.target, package)
            if target_layer not in MAY_IMPORT[layer]:
                found.append(f"{where}: {layer} imports {statement.target} ({target_layer})")
            if target_layer != layer:
                graph.setdefault(layer, set()).add(target_layer)
        elif top not in sys.stdlib_module_names and top not in THIRD_PARTY[layer]:
            found.append(f"{where}: {layer} imports {statement.target}, outside its layer")
    found += [f"the layers import each other in a cycle: {' -> '.join(c)}" for c in _cycles(graph)]
    found += [
        f"modules import each other in a cycle: {' -> '.join(c)}" for c in _eager_cycles(root)
    ]
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle through the graph's nodes, each once, from its smallest node."""
    cycles: list[list[str]] = []

    def walk(path: list[str]) -> None:
        for following in sorted(graph.get(path[-1], ())):
            if following == path[0]:
                cycles.append([*path, following])
            elif following not in path and following > path[0]:
                walk([*path, following])

    for node in sorted(graph):
        walk([node])
    return cycles


def _eager_cycles(root: Path) -> list[list[str]]:
    """Cycles among the imports run when a module is imported (its top level)."""
    modules = {module_name(path, root) for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for statement in imports(root):
        if statement.eager and statement.target in modules and statement.target != statement.module:
            graph.setdefault(statement.module, set()).add(statement.target)
    return _cycles(graph)


def test_every_layer_imports_only_what_it_may() -> None:
    assert broken_rules(REPOSITORY / "convcli") == []


def test_every_module_belongs_to_a_layer() -> None:
    root = REPOSITORY / "convcli"
    loose = [
        path.name
        for path in root.glob("*.py")
        if path.stem not in ("__init__", "__main__", "errors", "choices")
    ]
    assert loose == [], "a module outside the subpackages: put it in its layer"
    assert {path.parent.name for path in root.glob("*/*.py")} == set(LAYERS[1:])


@pytest.mark.parametrize(
    ("module", "text", "broken"),
    [
        ("core/shape.py", "import click\n", "core imports click, outside its layer"),
        ("core/shape.py", "from convcli.kernels import kernel\n", "core imports convcli.kernels"),
        (
            "imageio/files.py",
            "from ..kernels.kernel import Step\n",
            "imageio imports convcli.kernels.kernel",
        ),
        ("pipeline/chain.py", "def f():\n    import rich\n", "pipeline imports rich, outside"),
        (
            "pipeline/chain.py",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from convcli.cli import main\n",
            "pipeline imports convcli.cli.main (cli)",
        ),
        ("terminal/show.py", "import click\n", "terminal imports click, outside its layer"),
        ("errors.py", "import numpy\n", "vocabulary imports numpy, outside its layer"),
        (
            "kernels/kernel.py",
            "from convcli.imageio import files\n",
            "kernels imports convcli.imageio.files",
        ),
    ],
)
def test_a_broken_rule_is_found(tmp_path: Path, module: str, text: str, broken: str) -> None:
    root = _copy_of_the_package(tmp_path)
    assert broken_rules(root) == []
    path = root / module
    path.write_text(path.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")
    found = broken_rules(root)
    assert any(broken in line for line in found), found


def test_a_cycle_between_modules_is_found(tmp_path: Path) -> None:
    root = _copy_of_the_package(tmp_path)
    path = root / "core" / "params.py"
    path.write_text(path.read_text(encoding="utf-8") + "\nimport convcli.core.shape\n")
    found = broken_rules(root)
    assert any("cycle" in line and "convcli.core.shape" in line for line in found), found


def _copy_of_the_package(tmp_path: Path) -> Path:
    root = tmp_path / "convcli"
    for path in (REPOSITORY / "convcli").rglob("*.py"):
        copy = root / path.relative_to(REPOSITORY / "convcli")
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return root
