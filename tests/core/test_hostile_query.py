"""No GET route answers 5xx to a hostile query string.

Method:

1. Argument names are collected statically from the source of app/ (`ast`, no import of the views):
   `request.args.get("x")` / `.getlist("x")` / `request.args["x"]` / `"x" in request.args` (and `request.values`),
   the same reads on a parameter that receives `request.args` (`Filters.from_args(request.args)`), and calls of
   helpers that read a name they are given (`_id_arg("facility_id")`, `_enum(District, "district")`), found to a
   fixpoint; plus the fields of the marshmallow schemas passed to `blp.arguments(..., location="query")` (their
   `data_key`, read from the imported schema so that inherited and generated fields count).
2. A route's candidates are the names of its view's module and of the modules that module imports from its own
   domain package or from app.core. Every GET route of the URL map (not `static`) is requested with the path
   parameters and the base query of its row in the authorization matrix (same world, `build_world`), as the
   anonymous visitor, the admin, and, when neither may reach it, the first persona of the row who may.
3. The request's query MultiDict records every name the view reads. One request with the base query and one per
   candidate set to "1" tell which names the route reads (a guard such as `if request.args.get("x")` reads x
   either way); each name read is then sent with every hostile value, alone, on top of the base query.
4. Every answer is < 500; an /api answer >= 400 is JSON; an HTML page never contains the raw `<script>` value.
   `test_every_argument_is_exercised` proves that each name found statically was read, and so fuzzed, on at
   least one route, and that no route reads a name the collector missed: a new argument cannot escape.
   KNOWN lists the 500s found and left to the owner of the file; each line goes with its fix.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import pathlib
from urllib.parse import urlencode

import pytest
from flask import Request
from werkzeug.datastructures import ImmutableMultiDict

from tests.core import test_authorization_matrix as matrix
from tests.core.hostile import Crash, ErrorNote, matrix_row, shared_world

APP_DIR = pathlib.Path(__file__).resolve().parents[2] / "app"
SCRIPT = "<script>alert(1)</script>"
HOSTILE = ["", " ", "abc", "-1", "0", "1.5", "99999999999999999999", "9223372036854775808", "9999-12-31",
           "0001-01-01", "2026-02-30", "2026-13-01", "10000-01-01", "２０２６", "\x00", SCRIPT, "'", "x" * 5000,
           # str.isdigit() but not int() (NFKC makes the first "2", not the second); int() but not isdigit(); other
           # scripts' digits (int() reads them); the last year and month a date can hold ("next month" overflows)
           "²", "፩", "1_000", "١٢", "9999", "9999-12"]
# 500s reported to the owner of the file and not fixed here; remove the entry with its fix.
KNOWN: set[tuple[str, str, str]] = set()  # (endpoint, argument, value) of a 500 left to its owner, with its fix
REPEATED = ("1", "2")  # ?x=1&x=2
READS = {"get", "getlist", "get_all", "pop"}


# --- static collection --------------------------------------------------------------------------------------------

def _module_name(path: pathlib.Path) -> str:
    return ".".join(path.relative_to(APP_DIR.parent).with_suffix("").parts)


def _is_request_args(node) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr in {"args", "values"} and isinstance(node.value, ast.Name)
            and node.value.id == "request")


def _callee(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _params(fn) -> list[str]:
    return [p.arg for p in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]


def _functions_around(node, parents) -> list:
    chain = []
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            chain.append(node)
    return chain


def _query_schema_fields(module: str, tree) -> set[str]:
    """The query names of the schemas given to `blp.arguments(Schema, location="query")` in MODULE."""
    found = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and _callee(node) == "arguments" and node.args
                and any(k.arg == "location" and getattr(k.value, "value", None) == "query" for k in node.keywords)):
            schema = node.args[0]
            schema_name = schema.func.id if isinstance(schema, ast.Call) else schema.id
            cls = getattr(importlib.import_module(module), schema_name)
            found |= {field.data_key or name for name, field in cls().fields.items()}
    return found


def _imports(module: str, tree, known: set[str]) -> set[str]:
    """The app modules MODULE imports (`from app.x import queries` counts app.x.queries when it is a module)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = ".".join(module.split(".")[:-node.level] + [node.module or ""]).strip(".") if node.level \
                else node.module or ""
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found & known


def collect_argument_names() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(names read per module of app/, app modules imported per module)."""
    trees = {_module_name(p): ast.parse(p.read_text(encoding="utf-8")) for p in sorted(APP_DIR.rglob("*.py"))}
    parents = {}
    receivers = {}  # function name -> index of the positional argument that receives request.args
    for tree in trees.values():
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[child] = node
            if isinstance(node, ast.Call):
                receivers |= {_callee(node): i for i, arg in enumerate(node.args) if _is_request_args(arg)}
    names = {module: _query_schema_fields(module, tree) for module, tree in trees.items()}
    helpers = {module: {} for module in trees}  # module -> {function name: {argument index: parameter}}
    sources = {}  # function node -> its parameter that holds request.args
    for tree in trees.values():
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and fn.name in receivers:
                params = _params(fn)
                index = receivers[fn.name] + (1 if params and params[0] in ("self", "cls") else 0)
                if index < len(params):
                    sources[fn] = params[index]

    def is_source(node) -> bool:
        return _is_request_args(node) or (isinstance(node, ast.Name) and any(
            sources.get(fn) == node.id for fn in _functions_around(node, parents)))

    imported = {module: {alias.asname or alias.name: node.module for node in ast.walk(tree)
                         if isinstance(node, ast.ImportFrom) and node.module in trees for alias in node.names}
                for module, tree in trees.items()}  # module -> {name: module it is imported from}

    def _helper(module, name):
        """The argument slots of helper NAME as MODULE sees it: its own, or one imported (app.core.args.enum_arg)."""
        if name in helpers[module]:
            return helpers[module][name]
        return helpers.get(imported[module].get(name), {}).get(name)

    changed = True
    while changed:  # a helper found makes its callers' literals reads; helpers of helpers need another pass
        changed = False

        def read(module, node, key) -> None:
            nonlocal changed
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                changed |= key.value not in names[module]
                names[module].add(key.value)
            elif isinstance(key, ast.Name):
                for fn in _functions_around(node, parents):
                    if key.id in _params(fn):
                        slots = helpers[module].setdefault(fn.name, {})
                        changed |= _params(fn).index(key.id) not in slots
                        slots[_params(fn).index(key.id)] = key.id
                        break

        for module, tree in trees.items():
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in READS
                        and is_source(node.func.value) and node.args):
                    read(module, node, node.args[0])
                elif isinstance(node, ast.Subscript) and is_source(node.value):
                    read(module, node, node.slice)
                elif (isinstance(node, ast.Compare) and len(node.ops) == 1
                      and isinstance(node.ops[0], ast.In | ast.NotIn) and is_source(node.comparators[0])):
                    read(module, node, node.left)
                elif isinstance(node, ast.Call) and _helper(module, _callee(node)) is not None:
                    for index, param in _helper(module, _callee(node)).items():
                        if index < len(node.args):
                            read(module, node, node.args[index])
                        for keyword in node.keywords:
                            if keyword.arg == param:
                                read(module, node, keyword.value)
    imports = {module: _imports(module, tree, set(trees)) for module, tree in trees.items()}
    return names, imports


NAMES, IMPORTS = collect_argument_names()


def related_modules(module: str) -> set[str]:
    """MODULE and the modules it imports from its own domain package or from app.core."""
    domain = module.split(".")[1]
    return {module} | {m for m in IMPORTS.get(module, ()) if m.split(".")[1] in (domain, "core")}


def candidates(module: str) -> set[str]:
    """Names the views of MODULE could read."""
    return set().union(*(NAMES.get(m, set()) for m in related_modules(module)))


# --- recording what a view reads ----------------------------------------------------------------------------------

READ_NOW: set[str] = set()  # names read by the request in flight (the test client runs in this thread)
NOTE = ErrorNote()  # the exception behind a 500 of the request in flight (as the app logs it)


class RecordingArgs(ImmutableMultiDict):
    """The query MultiDict, noting every name looked up."""

    def __getitem__(self, key):
        READ_NOW.add(key)
        return super().__getitem__(key)

    def get(self, key, *args, **kwargs):
        READ_NOW.add(key)
        return super().get(key, *args, **kwargs)

    def getlist(self, key, *args, **kwargs):
        READ_NOW.add(key)
        return super().getlist(key, *args, **kwargs)

    def __contains__(self, key):
        READ_NOW.add(key)
        return super().__contains__(key)


class RecordingRequest(Request):
    parameter_storage_class = RecordingArgs


# --- the world and the routes -------------------------------------------------------------------------------------

def _routes(app) -> list[str]:
    return sorted({rule.endpoint for rule in app.url_map.iter_rules()
                   if "GET" in rule.methods and rule.endpoint != "static"})


def _row(endpoint: str) -> matrix.Row:
    return matrix_row(endpoint, "GET")


def _personas(row: matrix.Row) -> list[str]:
    chosen = ["anon", "admin"]
    if "ok" not in (row.expected["anon"], row.expected["admin"]):
        chosen += [p for p in matrix.PERSONAS if row.expected[p] == "ok"][:1]
    return chosen


def _view_module(app, endpoint: str) -> str:
    view = app.view_functions[endpoint]
    return getattr(view, "view_class", view).__module__


@pytest.fixture(scope="module")
def world(app):
    """The matrix's world, built once for the module; the app records query reads while it runs."""
    for w in shared_world(app):
        original = app.request_class
        app.request_class = RecordingRequest
        app.logger.addHandler(NOTE)
        yield w
        app.logger.removeHandler(NOTE)
        app.request_class = original


@pytest.fixture(autouse=True)
def _clean_state():
    """Overrides the suite's per-test emptying: the module shares one world (GET requests only)."""
    yield


FUZZED: dict[str, set[str]] = {}  # endpoint -> names read and fuzzed there
ROUTES_RUN: set[str] = set()


def _get(world, persona: str, path: str, query: list[tuple[str, str]]):
    READ_NOW.clear()
    NOTE.errors.clear()
    headers = {}
    if path.startswith("/api") and persona != "anon":
        headers["Authorization"] = f"Bearer {world.bearer[persona]}"
    try:
        response = world.clients[persona].get(f"{path}?{urlencode(query)}" if query else path, headers=headers)
    except Exception as error:  # noqa: BLE001 - TESTING propagates the view's exception: that is the 500
        NOTE.errors.append(error)
        response = Crash(error)
    response.close()
    return response, set(READ_NOW)


def _problems(response, path: str, query, persona: str, value: str | None) -> list[str]:
    where = f"{persona} GET {path}?{urlencode(query)[:120]}"
    if response.status_code >= 500:
        detail = "".join(f" {type(e).__name__}: {(str(e).splitlines() or [''])[0][:150]}" for e in NOTE.errors[:1])
        return [f"{where} -> {response.status_code}{detail}"]
    if path.startswith("/api") and response.status_code >= 400 and not response.is_json:
        return [f"{where} -> {response.status_code} not JSON"]
    if value == SCRIPT and response.mimetype == "text/html" and SCRIPT in response.get_data(as_text=True):
        return [f"{where} -> the value is reflected unescaped"]
    return []


def _endpoints():
    from app import create_app

    return _routes(create_app("testing"))  # building an app touches no database (as in test_csrf)


@pytest.mark.parametrize("endpoint", _endpoints())
def test_hostile_query_values(world, endpoint: str):
    """Each argument the route reads, with each hostile value alone, as each persona: never a 5xx."""
    app = world.app
    row = _row(endpoint)
    path = app.url_map.bind("localhost").build(endpoint, matrix._resolve(row.kwargs, world), method="GET")
    base = [(k, str(v)) for k, v in matrix._resolve(row.query, world).items()]
    names = candidates(_view_module(app, endpoint))
    problems, fuzzed = [], set()
    # With the row's base query (ids that exist, so the view gets past its lookups), and without it (a view may
    # read other names when the base is missing, e.g. ?facility= when there is no ?room=).
    for persona, context in itertools.product(_personas(row), [base, []] if base else [base]):
        response, read = _get(world, persona, path, context)
        problems += _problems(response, path, context, persona, None)
        for name in sorted(names - {k for k, _ in context}):
            response, seen = _get(world, persona, path, [*context, (name, "1")])
            problems += _problems(response, path, [*context, (name, "1")], persona, None)
            read |= seen
        for name in sorted(read):
            rest = [(k, v) for k, v in context if k != name]
            for query in ([*rest, (name, value)] for value in HOSTILE):
                response, _ = _get(world, persona, path, query)
                if (endpoint, name, query[-1][1]) in KNOWN:
                    continue
                problems += _problems(response, path, query, persona, query[-1][1])
            query = [*rest, *((name, value) for value in REPEATED)]
            response, _ = _get(world, persona, path, query)
            problems += _problems(response, path, query, persona, None)
        fuzzed |= read
    FUZZED[endpoint] = fuzzed
    ROUTES_RUN.add(endpoint)
    assert not problems, "\n".join(problems)


def test_every_argument_is_exercised(app):
    """Each name read in a module of app/ was read (and so fuzzed) on a route whose view may reach that module,
    and no route read a name the collector missed."""
    if set(_routes(app)) != ROUTES_RUN:
        pytest.skip("needs every route's case of this module in the same run")
    reached = {}  # module -> names fuzzed on routes whose candidates include that module's names
    for endpoint, names in FUZZED.items():
        for related in related_modules(_view_module(app, endpoint)):
            reached.setdefault(related, set()).update(names)
    missed = sorted(f"{module}: {name}" for module, names in NAMES.items() for name in names
                    if name not in reached.get(module, set()))
    assert not missed, "arguments no route was seen reading:\n" + "\n".join(missed)
    unknown = set().union(*FUZZED.values()) - set().union(*NAMES.values())
    assert not unknown, f"arguments read at run time that the collector missed: {sorted(unknown)}"
