"""The layer rule of README.md's *Layout*, checked on the source: imports in ``watcher/`` point one way.

Every module of ``watcher/`` belongs to one layer of ``LAYERS`` (lowest first). A module may import
modules of its own layer or of a layer below, never of a layer above; there is no import cycle; inside
``watcher.pipeline`` a module imports only the modules listed after it in ``PIPELINE_ORDER``; and
there is no import inside a function, except in the CLI (``watcher.cli``), where a function may import
for start-up time and says so with ``LAZY_MARK`` before its first import. Imports are read with
``ast`` (those under ``if TYPE_CHECKING:`` included), so the test needs no import of the package.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "watcher"

# Lowest first. A name stands for the module and, for a package, everything in it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",
        ("watcher", "watcher.errors", "watcher.netguard", "watcher.config", "watcher.addresses", "watcher.httpdates"),
    ),
    (
        "pure stages",
        (
            "watcher.capture",
            "watcher.extract",
            "watcher.quality",
            "watcher.shell",
            "watcher.links",
            "watcher.changes",
            "watcher.claims",
            "watcher.describe",
        ),
    ),
    ("storage", ("watcher.models", "watcher.db", "watcher.search_index")),
    ("sources and crawl", ("watcher.sources", "watcher.crawl", "watcher.lifeline", "watcher.webarchive")),
    ("write path", ("watcher.pipeline",)),
    (
        "read side",
        (
            "watcher.history",
            "watcher.queries",
            "watcher.search",
            "watcher.triage",
            "watcher.warc",
            "watcher.backfill",
            "watcher.export",
            "watcher.wacz",
            "watcher.subscriptions",
        ),
    ),
    ("delivery", ("watcher.notify", "watcher.scheduler", "watcher.queue")),
    ("surfaces", ("watcher.web", "watcher.demo", "watcher.cli")),
)
PIPELINE_ORDER = (
    "run",
    "requisites",
    "discover",
    "record",
    "analyse",
    "new_pages",
    "alerts",
    "passages",
    "claim_steps",
)
LAZY_ALLOWED = ("watcher.cli", "watcher.db")  # watcher.db: Alembic, only when the schema must move
LAZY_MARK = "# lazy import: start-up time"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the watcher module imported (or the outside module, for imports inside functions)
    line: int
    in_function: str | None  # the enclosing function's name


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def resolve(name: str, imported: str | None) -> str:
    """The module a ``from name import imported`` depends on: the submodule when there is one."""
    if imported is not None and f"{name}.{imported}" in MODULES:
        return f"{name}.{imported}"
    return name


def imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend(Import(module, alias.name, child.lineno, function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                found.extend(Import(module, resolve(base, alias.name), child.lineno, function) for alias in child.names)
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, getattr(child, "name", "<lambda>"))
            else:
                visit(child, function)

    visit(tree, None)
    return found


ALL_IMPORTS = [item for module in MODULES for item in imports_of(module)]


def layer_of(module: str) -> int:
    best: tuple[int, int] | None = None  # (length of the matching name, layer)
    for number, (_name, members) in enumerate(LAYERS):
        for member in members:
            if (module == member or module.startswith(member + ".")) and (best is None or len(member) > best[0]):
                best = (len(member), number)
    if best is None:
        raise LookupError(f"{module} is in no layer: add it to LAYERS here and to README.md's Layout")
    return best[1]


def internal(item: Import) -> bool:
    return item.target == "watcher" or item.target.startswith("watcher.")


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


def test_no_upward_import_between_layers() -> None:
    upward = [
        f"{i.module}:{i.line} imports {i.target} ({LAYERS[layer_of(i.module)][0]} -> {LAYERS[layer_of(i.target)][0]})"
        for i in ALL_IMPORTS
        if internal(i) and layer_of(i.target) > layer_of(i.module)
    ]
    assert upward == []


def test_pipeline_modules_import_only_later_steps() -> None:
    def step(module: str) -> int | None:
        prefix = "watcher.pipeline."
        return PIPELINE_ORDER.index(module.removeprefix(prefix)) if module.startswith(prefix) else None

    assert {m.removeprefix("watcher.pipeline.") for m in MODULES if m.startswith("watcher.pipeline.")} == set(
        PIPELINE_ORDER
    )
    backwards = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in ALL_IMPORTS
        if (a := step(i.module)) is not None and (b := step(i.target)) is not None and b <= a
    ]
    assert backwards == []


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for item in ALL_IMPORTS:
        if internal(item) and item.target in MODULES and item.target != item.module:
            graph[item.module].add(item.target)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the DFS stack, 2 done
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == [], " ; ".join(" -> ".join(cycle) for cycle in cycles)


def test_imports_inside_functions_only_in_the_cli_and_marked() -> None:
    bad = []
    for item in ALL_IMPORTS:
        if item.in_function is None:
            continue
        if not any(item.module == allowed or item.module.startswith(allowed + ".") for allowed in LAZY_ALLOWED):
            bad.append(f"{item.module}:{item.line} imports {item.target} inside {item.in_function}()")
            continue
        lines = MODULES[item.module].read_text(encoding="utf-8").splitlines()
        before = lines[: item.line - 1]
        def_line = max(
            n
            for n, text in enumerate(before)
            if text.lstrip().startswith(("def ", "async def ")) and f" {item.in_function}(" in text
        )
        if not any(text.strip().startswith(LAZY_MARK) for text in before[def_line:]):
            bad.append(
                f"{item.module}:{item.line} imports {item.target} inside {item.in_function}() "
                f"without {LAZY_MARK!r} before it"
            )
    assert bad == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from watcher.pipeline.run import check_with_discovery\n", "upward"),
        ("def f() -> None:\n    from watcher.errors import InputError\n", "inside"),
    ],
)
def test_the_rules_catch_what_they_forbid(
    source: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pure-stage module that imported the write path, or imported inside a function, would fail.
    planted = PACKAGE / "links.py"
    monkeypatch.setitem(MODULES, "watcher.links", tmp_path / "links.py")
    (tmp_path / "links.py").write_text(planted.read_text(encoding="utf-8") + "\n" + source, encoding="utf-8")
    planted_imports = imports_of("watcher.links")
    if expected == "upward":
        assert any(
            i.target == "watcher.pipeline.run" and layer_of(i.target) > layer_of(i.module) for i in planted_imports
        )
    else:
        assert any(i.in_function == "f" for i in planted_imports)
