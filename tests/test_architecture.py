"""The import rule of docs/ARCHITECTURE.md, checked against the code so the picture cannot rot.

The layout tree in that file gives every module a line and every unit (a package, or a module
with its own ``->`` arrow) the units it may import. This test parses the tree, reads every
import of every module under src/diarefine (module level and inside functions), and checks:
each module is in the tree and each tree line is a module; each import stays inside its unit
or goes to an allowed one; the allowed imports form no cycle (nothing imports a higher
layer); leaf helpers import only leaves; ``models/`` imports only torch and leaf helpers.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import diarefine

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(diarefine.__file__).resolve().parent
DOC = ROOT / "docs" / "ARCHITECTURE.md"
ANY = "*"

pytestmark = pytest.mark.skipif(not DOC.is_file() or PACKAGE.parent.parent != ROOT,
                                reason="needs the source checkout (docs/ and an editable install)")


@dataclass
class Entry:
    """One line of the tree: a module or package, its allowed imports (None: its package's)."""

    dotted: str  # "" for the package root, "models.base", "refine.files", ...
    line: int  # where it first appears in the tree
    allowed: set[str] | None = None
    leaf: bool = False
    text: list[str] = field(default_factory=list)


def parse_layout(text: str) -> dict[str, Entry]:
    """Entries of the fenced ``src/diarefine/`` tree of the Layout section, by dotted name."""
    block = re.search(r"```text\nsrc/diarefine/\n(.*?)```", text, re.S)
    assert block, f"{DOC}: no ```text block starting with src/diarefine/"
    entries: dict[str, Entry] = {}
    stack: list[str] = []
    current: Entry | None = None
    for line in block.group(1).splitlines():
        indent, token = len(line) - len(line.lstrip(" ")), line.split()[0]
        if token.endswith((".py", "/")):
            depth = indent // 2 - 1
            stack = stack[:depth]
            name = token.rstrip("/").removesuffix(".py")
            dotted = ".".join(stack) if name == "__init__" else ".".join([*stack, name])
            if token.endswith("/"):
                stack.append(name)
            current = entries.setdefault(dotted, Entry(dotted, len(entries)))
        assert current is not None, f"{DOC}: continuation line before any entry: {line!r}"
        current.text.append(line)
        current.leaf |= "[leaf]" in line
        arrow = re.search(r"\s{2}-> (.+)$", line)  # an arrow is set off by two spaces, like the columns
        if arrow:
            assert current.allowed is None, f"{DOC}: two arrows for {current.dotted or '(root)'}"
            targets = arrow.group(1).strip()
            current.allowed = set() if targets == "-" else {t.strip() for t in targets.split(",")}
    return entries


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(dotted: str) -> bool:
    base = PACKAGE.joinpath(*dotted.split(".")) if dotted else PACKAGE
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(path: Path) -> tuple[set[str], set[str]]:
    """(diarefine modules, other top-level packages) that ``path`` imports anywhere in its code."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    ours, theirs = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "diarefine":
                    ours.add(alias.name.removeprefix("diarefine").lstrip("."))
                else:
                    theirs.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".") if package else []
            base = base[:len(base) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{target}.{alias.name}".lstrip(".")
                ours.add(candidate if is_module(candidate) else target)
        elif isinstance(node, ast.ImportFrom):
            top = (node.module or "").split(".")[0]
            if top == "diarefine":
                ours.add(node.module.removeprefix("diarefine").lstrip("."))
            elif top != "__future__":
                theirs.add(top)
    return ours, theirs


def unit_of(dotted: str, entries: dict[str, Entry]) -> str:
    """The nearest entry, from the module up through its packages, that has an arrow."""
    parts = dotted.split(".") if dotted else []
    for n in range(len(parts), -1, -1):
        entry = entries.get(".".join(parts[:n]))
        if entry is not None and entry.allowed is not None:
            return entry.dotted
    raise AssertionError(f"{dotted or '(root)'}: no arrow on its line or any package line of {DOC.name}")


@pytest.fixture(scope="module")
def entries() -> dict[str, Entry]:
    return parse_layout(DOC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_line_and_every_line_a_module(entries, modules) -> None:
    assert sorted(set(modules) - set(entries)) == [], "modules missing from docs/ARCHITECTURE.md"
    assert sorted(set(entries) - set(modules)) == [], "lines of docs/ARCHITECTURE.md with no module"


def test_every_import_is_allowed_by_the_layout(entries, modules) -> None:
    wrong = []
    for name, path in modules.items():
        unit = unit_of(name, entries)
        allowed = entries[unit].allowed
        for target in sorted(imports_of(path)[0]):
            target_unit = unit_of(target, entries)
            if target_unit != unit and ANY not in allowed and target_unit not in allowed:
                wrong.append(f"{name} imports {target or 'diarefine'} (unit {target_unit or '(root)'}), "
                             f"not in the arrow of {unit or '(root)'}")
    assert wrong == []


def test_the_allowed_imports_form_layers(entries) -> None:
    """Each unit may import only units on lines above it (its own package's modules aside), so the
    arrows (the CLI's "*" aside) form no cycle: every unit sits above what it imports."""
    graph = {e.dotted: e.allowed - {ANY} for e in entries.values() if e.allowed is not None and ANY not in e.allowed}
    for unit, targets in graph.items():
        assert targets <= set(entries), f"{unit or '(root)'} allows unknown units {sorted(targets - set(entries))}"
        own = (unit + ".") if unit else ""
        below = sorted(t for t in targets if entries[t].line > entries[unit].line and not t.startswith(own))
        assert below == [], f"{unit or '(root)'} may import {below}, listed below it"
    layer: dict[str, int] = {}

    def depth(unit: str, seen: tuple[str, ...] = ()) -> int:
        assert unit not in seen, f"import cycle: {' -> '.join(seen + (unit,))}"
        if unit not in layer:
            layer[unit] = 1 + max((depth(t, seen + (unit,)) for t in graph.get(unit, ())), default=-1)
        return layer[unit]

    for unit in graph:
        depth(unit)
    assert layer["units"] == 0 and layer["refine.pipeline"] > layer["models"] > layer["registry"]


def test_leaf_helpers_and_models_import_only_leaves(entries, modules) -> None:
    leaves = {e.dotted for e in entries.values() if e.leaf}
    assert {"units", "errors", "types", "registry", "config", "dsp", "_version"} <= leaves
    for leaf in leaves:
        assert entries[leaf].allowed <= leaves, f"leaf {leaf} may import non-leaves"
    assert entries["models"].allowed <= leaves
    stdlib = set(sys.stdlib_module_names)
    for name, path in modules.items():
        if name == "models" or name.startswith("models."):
            assert imports_of(path)[1] - stdlib <= {"torch"}, f"{name} imports more than torch"


def test_the_parser_reads_packages_modules_and_continuations() -> None:
    text = ("```text\nsrc/diarefine/\n  units.py   grids -> not an arrow\n             and more   [leaf]  -> -\n"
            "  models/    models  -> units\n    base.py    interface\n    classical/  rules\n"
            "      bic.py   bic\n  refine/    inference\n    __init__.py  api  -> refine.files\n"
            "    files.py   pairing  -> units\n```\n")
    e = parse_layout(text)
    assert set(e) == {"units", "models", "models.base", "models.classical", "models.classical.bic", "refine",
                      "refine.files"}
    assert e["units"].leaf and e["units"].allowed == set()
    assert unit_of("models.classical.bic", e) == "models" and unit_of("refine.files", e) == "refine.files"
    assert e["refine"].allowed == {"refine.files"} and e["units"].line < e["models"].line < e["refine.files"].line
