"""The layout's rules (docs/architecture.md, "The map"), read from the code with `ast`: the import
graph of the project's own modules has no cycle, each layer imports only the layers below it, and
every import of a project module inside a function says why it is there.

The graph counts imports at any level (module level, class bodies and inside functions), so an
import moved into a function to dodge a cycle still closes it; only `if TYPE_CHECKING:` blocks are
left out (they never run). `from a.b import c` is an edge to the module `a.b.c` when `c` is one,
else to `a.b` (the package's `__init__`). Reaching `a.b.c` also runs the `__init__` of `a` and
`a.b` first: edges too, except to the importing module's own packages (they are already being
initialised), so a package `__init__` may import its submodules and they each other without a
cycle, while a submodule that reads a name from its own package's `__init__` does get the edge."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP_PACKAGES = ("wdc_orchestration", "wdc_portal", "domains")


@dataclass(frozen=True)
class Import:
    """One import statement of a project module, resolved to the modules it loads."""

    source: str  # the importing module
    targets: tuple[str, ...]  # the project modules it names
    loads: tuple[str, ...]  # those and the packages Python initialises first to reach them
    line: int
    in_function: bool


def module_files() -> dict[str, Path]:
    """Every module of the three packages by its dotted name (a package by its `__init__`)."""
    modules = {}
    for top in TOP_PACKAGES:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """The import statements that run (not under `if TYPE_CHECKING:`), each with whether it is
    inside a function."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit_one(other, in_function)
                continue
            visit_one(child, in_function)

    def visit_one(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append((node, in_function))
        function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        visit(node, in_function or function)

    visit(tree, False)
    return found


def _ancestors(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def project_imports() -> list[Import]:
    modules = module_files()
    imports = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, in_function in _import_nodes(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative: from the importing module's package
                    package = _package_of(module, path).split(".")
                    package = package[: len(package) - (node.level - 1)]
                    base = ".".join([*package, *([base] if base else [])])
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.append(submodule if submodule in modules else base)
            # (an import of a project module that does not exist fails elsewhere: ruff, tests)
            ours = sorted({t for t in targets if t in modules and t != module})
            own_packages = _ancestors(module) | {module}
            loads = {
                package
                for target in ours
                for package in (_ancestors(target) | {target})
                if package in modules and package not in own_packages
            }
            if ours:
                imports.append(
                    Import(module, tuple(ours), tuple(sorted(loads)), node.lineno, in_function)
                )
    return imports


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in module_files()}
    for imported in project_imports():
        graph[imported.source].update(imported.loads)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a path back to its start) for each strongly connected component that has one
    (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
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
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
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
                        components.append(component)
    return [_a_cycle_in(graph, set(component)) for component in components]


def _a_cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return sorted(component)


# The layers (docs/architecture.md, "The map"): (name, rank, the folders and modules in it, as
# paths: dotted, the packages that were modules before the layout's move, dbt, raw and mesh, would
# read as the old modules to its script, house_move.py). A module may import modules of its own
# layer and of any layer of a lower rank: never up, and never across to another layer of the same
# rank (the portal sits beside the mesh: neither imports the other). A module belongs to the layer
# of its longest matching prefix, so a few modules sit below their package: mesh/spec.py and
# mesh/partitions.py are the vocabulary every layer above storage speaks, the CLI modules of
# governance and quality are the edge's, the dbt-duckdb plugins bring governance
# (pseudonymisation) and the raw read sets into dbt's connections.
LAYERS: list[tuple[str, int, tuple[str, ...]]] = [
    (
        "base",
        0,
        (
            "wdc_orchestration/settings",
            "wdc_orchestration/yamlio",
            "wdc_orchestration/logs",
            "wdc_orchestration/processes",
            # the volumes the simulators can make: standard library only, read by the settings
            "wdc_orchestration/raw/generation/volume",
        ),
    ),
    (
        "storage",
        1,
        (
            "wdc_orchestration/lakehouse",
            "wdc_orchestration/resources",
            "wdc_orchestration/raw/generation",
            "wdc_orchestration/console",
        ),
    ),
    ("vocabulary", 2, ("wdc_orchestration/mesh/spec", "wdc_orchestration/mesh/partitions")),
    ("data", 3, ("wdc_orchestration/raw", "wdc_orchestration/dbt")),
    (
        "capabilities",
        4,
        (
            "wdc_orchestration/governance",
            "wdc_orchestration/quality",
            "wdc_orchestration/kpis",
            "wdc_orchestration/dbt/duckdb_plugins",
        ),
    ),
    ("mesh", 5, ("wdc_orchestration/mesh",)),
    ("portal", 5, ("wdc_portal",)),
    ("domains", 6, ("domains",)),
    (
        "edge",
        7,
        (
            "wdc_orchestration/cli",
            "wdc_orchestration/ops",
            "wdc_orchestration/scaffold",
            "wdc_orchestration/governance/cli",
            "wdc_orchestration/governance/product_cli",
            "wdc_orchestration/quality/cli",
        ),
    ),
]


def layer_of(module: str) -> int:
    """The index in LAYERS of the module's layer: its longest matching prefix decides (-1: none)."""
    if module == "wdc_orchestration":
        return 0  # the package's own __init__: empty
    best, best_length = -1, -1
    for number, (_, _, paths) in enumerate(LAYERS):
        for prefix in (path.replace("/", ".") for path in paths):
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = number, len(prefix)
    return best


def may_import(source: str, target: str) -> bool:
    source_layer, target_layer = layer_of(source), layer_of(target)
    return source_layer == target_layer or LAYERS[target_layer][1] < LAYERS[source_layer][1]


# What a domain's package may import besides its own modules: the mesh (the factory, the spec) and
# the simulators' machinery. Everything else of the platform reaches a domain through these.
ENTRY_PATHS = ("wdc_orchestration/mesh", "wdc_orchestration/raw/generation")
DOMAIN_ENTRY_POINTS = tuple(path.replace("/", ".") for path in ENTRY_PATHS)


def test_every_module_is_in_a_layer() -> None:
    assert [m for m in module_files() if layer_of(m) < 0] == []


def test_the_import_graph_has_no_cycle() -> None:
    found = cycles(import_graph())
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    """Direct imports only: a package's `__init__` that Python runs on the way is judged by its
    own imports, from its own layer."""
    wrong = [
        f"{imported.source}:{imported.line} ({LAYERS[layer_of(imported.source)][0]}) imports "
        f"{target} ({LAYERS[layer_of(target)][0]})"
        for imported in project_imports()
        for target in imported.targets
        if not may_import(imported.source, target)
    ]
    assert wrong == [], "\n".join(wrong)


def test_domains_import_the_platform_only_through_its_entry_points() -> None:
    outside = [
        f"{imported.source}:{imported.line} imports {target}"
        for imported in project_imports()
        if imported.source.startswith("domains.")
        for target in imported.targets
        if not target.startswith("domains")
        and not any(target == e or target.startswith(e + ".") for e in DOMAIN_ENTRY_POINTS)
    ]
    assert outside == [], "\n".join(outside)


def _comment_lines(source: str) -> dict[int, bool]:
    """Line number -> whether the comment is the whole line (True) or follows code (False)."""
    lines = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            lines[token.start[0]] = not token.line[: token.start[1]].strip()
    return lines


def unexplained_function_imports() -> list[str]:
    """Imports of project modules inside functions without a reason: a comment at the end of the
    statement's lines, or a full-line comment above it (above the run of imports it starts)."""
    files = module_files()
    by_module: dict[str, list[Import]] = {}
    for imported in project_imports():
        by_module.setdefault(imported.source, []).append(imported)
    missing = []
    for module, imports in sorted(by_module.items()):
        source = files[module].read_text(encoding="utf-8")
        comments = _comment_lines(source)
        tree = ast.parse(source)
        spans = {
            node.lineno: node.end_lineno or node.lineno
            for node, _ in _import_nodes(tree)  # every import, ours or not
        }
        import_lines = {n for start, end in spans.items() for n in range(start, end + 1)}
        for imported in imports:
            if not imported.in_function:
                continue
            end = spans[imported.line]
            if any(n in comments for n in range(imported.line, end + 1)):
                continue
            above = imported.line - 1
            while above in import_lines and above not in comments:
                above -= 1  # a comment above a run of imports covers the run
            if comments.get(above) is True:
                continue
            missing.append(f"{files[module].relative_to(ROOT)}:{imported.line}")
    return missing


def test_every_import_inside_a_function_says_why() -> None:
    assert unexplained_function_imports() == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c", "a"]]),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b", "a"], ["c", "d", "c"]]),
    ],
)
def test_the_cycle_finder_finds_cycles(
    graph: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert sorted(cycles(graph)) == expected


# What `wdc`'s start may load: its commands parse and check their arguments before the mesh is
# loaded, so a bad option (tests/test_bad_input.py) or a light command costs no Dagster, dbt or
# polars import (~3 s of CPU each on this suite's machines). A module-level import of the mesh
# in any command's module brings them all back.
HEAVY_AT_START = ("dagster", "dagster_dbt", "dbt", "polars", "faker")


def test_the_wdc_command_starts_without_dagster_or_dbt() -> None:
    code = (
        "import sys, wdc_orchestration.cli; "
        f"print(sorted(m for m in {HEAVY_AT_START!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]", f"`import wdc_orchestration.cli` loads {loaded}"
