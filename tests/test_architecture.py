"""The import map of app/ (docs/architecture.md): which package may import which, read from the source with `ast`.

Packages are layered; a module may import from its own package, from a lower layer, and any package's `models`
(the tables are the shared vocabulary: bookings checks LotteryPeriod, lottery books through bookings' services).
Nothing imports another package's pages (views), nobody imports dashboards, api or demo, and `models` modules
import nothing but core, the extensions and other models. An import inside a function body says why in a
comment with `late:` (on its line or the line above); everything else is imported at the top.
"""

from __future__ import annotations

import ast
import pathlib
from dataclasses import dataclass

APP = pathlib.Path(__file__).resolve().parents[1] / "app"

# Lowest first. Each package may import the ones before it (and any package's models).
LAYERS = (
    "core",
    "accounts",
    "organizations",
    "facilities",
    "bookings",
    "events",
    "participation",
    "alerts",
    "lottery",
    "utilization",
    "indicators",
    "opendata",
    "dashboards",
    "portal",
    "api",
    "demo",
)
RANK = {name: i for i, name in enumerate(LAYERS)}
# Modules directly in app/: the factory and what it assembles may import any package.
ROOT_MODULES = {"app", "app.models", "app.jobs"}
# app.extensions holds the unbound extension objects; the API object's class lives with the API's errors.
EXTENSION_IMPORTS = {"app.core.db", "app.api.errors"}
# The API package's __init__ builds the Api object and is imported by app.extensions: its own route modules are
# imported when the app is built, not at import time (they say so with `late:`).
TOP_ONLY = {"dashboards", "portal", "api", "demo"}  # pages, exports and data loaders: nobody below imports them


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted (a name imported from a package counts as its submodule when it is one)
    line: int
    in_function: bool
    comment: str  # the comment on the statement's first line, or on the line above


def _module(path: pathlib.Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, pathlib.Path]:
    return {_module(p): p for p in sorted(APP.rglob("*.py"))}


def _comment(lines: list[str], lineno: int) -> str:
    """The comment on line LINENO and on the run of comment and import lines right above it."""
    here = lines[lineno - 1]
    comments = [here.split("#", 1)[1]] if "#" in here else []
    above = lineno - 2
    while above >= 0 and lines[above].strip().startswith(("#", "from ", "import ")):
        if lines[above].strip().startswith("#"):
            comments.append(lines[above].split("#", 1)[1])
        above -= 1
    return " ".join(comments)


def collect_imports() -> list[Import]:
    modules = _modules()
    found = []
    for name, path in modules.items():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        tree = ast.parse(source)
        in_function = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                in_function |= {id(child) for child in ast.walk(node) if child is not node}
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "app":
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.append(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.split(".")[0] == "app"]
            for target in targets:
                found.append(Import(name, target, node.lineno, id(node) in in_function, _comment(lines, node.lineno)))
    return found


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def is_models(module: str) -> bool:
    return module.endswith(".models")


def is_views(module: str) -> bool:
    parts = module.split(".")
    return any(p == "views" or p.endswith("_views") for p in parts[2:])


def violations(imports: list[Import]) -> list[str]:
    """Every import that breaks the map, as 'module:line -> target: why'."""
    problems = []
    for imp in imports:
        where = f"{imp.source}:{imp.line} -> {imp.target}"
        if imp.in_function and "late:" not in imp.comment and imp.source != "app":
            problems.append(f"{where}: imported inside a function without a `late:` comment saying why")
        if imp.source in ROOT_MODULES or imp.target == "app.extensions":
            continue
        if imp.target == "app":  # the factory: only a process that builds its own app (the mail worker), late
            if not imp.in_function:
                problems.append(f"{where}: the factory is imported by entry points, or late by a worker")
            continue
        if imp.source == "app.extensions":
            if imp.target not in EXTENSION_IMPORTS:
                problems.append(f"{where}: app.extensions holds unbound extension objects only")
            continue
        src, dst = package_of(imp.source), package_of(imp.target)
        if src is None or dst is None:
            problems.append(f"{where}: a package the map does not know (add it to LAYERS and docs/architecture.md)")
            continue
        if is_models(imp.source) and not (is_models(imp.target) or dst == "core"):
            problems.append(f"{where}: models import only core, the extensions and other models")
        if src == dst:
            continue
        if is_views(imp.target):
            problems.append(f"{where}: another package's pages are never imported")
        elif dst in TOP_ONLY:
            problems.append(f"{where}: nobody imports {dst}")
        elif RANK[dst] > RANK[src] and not is_models(imp.target):
            problems.append(f"{where}: runs upward ({src} is below {dst})")
    return problems


def test_every_package_of_app_is_on_the_map():
    packages = {p.name for p in APP.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages - {"translations"} == set(LAYERS)


def test_the_import_map_holds():
    imports = collect_imports()
    assert len(imports) > 500  # the collector saw the app, not an empty folder
    problems = violations(imports)
    assert not problems, "imports against docs/architecture.md:\n" + "\n".join(problems)


def test_no_circle_between_packages():
    """Apart from models (shared tables), the packages form a graph without cycles."""
    edges: dict[str, set[str]] = {}
    for imp in collect_imports():
        src, dst = package_of(imp.source), package_of(imp.target)
        if src and dst and src != dst and not is_models(imp.target):
            edges.setdefault(src, set()).add(dst)
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, node])):
                return cycle
        state[node] = 2
        return None

    for package in sorted(edges):
        if package not in state:
            cycle = visit(package, [])
            assert cycle is None, "packages import each other: " + " -> ".join(cycle)


def test_the_checker_catches_what_it_forbids():
    """Control: the rules fire on made-up imports of each kind, so a passing map is not a blind one."""
    made_up = [
        Import("app.facilities.queries", "app.bookings.services", 1, False, ""),  # upward
        Import("app.bookings.services", "app.events.views.public", 1, False, ""),  # pages
        Import("app.indicators.sources", "app.dashboards.queries", 1, False, ""),  # nobody imports dashboards
        Import("app.events.models", "app.events.series", 1, False, ""),  # models import models only
        Import("app.events.series", "app.events.venue", 9, True, ""),  # hidden in a function
        Import("app.extensions", "app.accounts.models", 1, False, ""),
    ]
    assert len(violations(made_up)) == len(made_up)
    allowed = [
        Import("app.bookings.services", "app.lottery.models", 1, False, ""),  # models from anywhere
        Import("app.events.series", "app.bookings.services", 1, False, ""),  # downward
        Import("app.core.errors", "app.extensions", 5, True, " late: the extensions import this module"),
    ]
    assert violations(allowed) == []
