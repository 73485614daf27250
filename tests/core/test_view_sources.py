"""Source guards for the view modules: they leave commit and rollback to app.core.transactions.request_transaction,
and every redirect in them says 303 (See Other), outside the explicit, commented allow-lists below."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _view_modules() -> list[Path]:
    """Every module of HTML (and JSON API) routes."""
    app_dir = ROOT / "app"
    found = {*app_dir.glob("*/views.py"), *app_dir.glob("*/views/*.py"), *app_dir.glob("*/*_views.py"),
             *app_dir.glob("api/*.py")}
    return sorted(found)


def _calls(path: Path, wanted):
    """(where, call) for each call in PATH that WANTED accepts; WHERE is the qualified name of the enclosing
    function ("login", "BookingCancel.post")."""
    found = []

    def visit(node, where: str):
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                inner = child.name if where == "<module>" else f"{where}.{child.name}"
            if isinstance(child, ast.Call) and wanted(child):
                found.append((inner, child))
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), "<module>")
    return found


def _is_session_call(node: ast.Call) -> str | None:
    """'commit' or 'rollback' for db.session.commit() / db.session.rollback(), else None."""
    func = node.func
    if (isinstance(func, ast.Attribute) and func.attr in ("commit", "rollback")
            and isinstance(func.value, ast.Attribute) and func.value.attr == "session"
            and isinstance(func.value.value, ast.Name) and func.value.value.id == "db"):
        return func.attr
    return None


# The commits and rollbacks a view module may still make itself, each with why the helper does not fit.
# Key: (module path, function, "commit" | "rollback"); value: how many.
SESSION_CALLS_ALLOWED = {
    # A wrong password keeps its audit row: the failure is committed on purpose, a refusal that writes.
    ("app/accounts/views.py", "login", "commit"): 1,
    # The same for bearer tokens.
    ("app/api/auth.py", "TokenResource.post", "commit"): 1,
    # Catches ValueError as well as DomainError, with a fallback message for it: not the helper's contract.
    ("app/bookings/views.py", "closures", "rollback"): 1,
    ("app/bookings/views.py", "closures", "commit"): 1,
}


def test_view_modules_leave_commit_and_rollback_to_the_helper():
    seen: dict[tuple[str, str, str], int] = {}
    modules = _view_modules()
    assert len(modules) > 20, "the scan found no view modules: the glob is wrong"
    for path in modules:
        for function, call in _calls(path, _is_session_call):
            key = (path.relative_to(ROOT).as_posix(), function, _is_session_call(call))
            seen[key] = seen.get(key, 0) + 1
    unexpected = {key: n for key, n in seen.items() if n > SESSION_CALLS_ALLOWED.get(key, 0)}
    assert not unexpected, f"use app.core.transactions.request_transaction instead: {unexpected}"
    stale = {key for key in SESSION_CALLS_ALLOWED if key not in seen}
    assert not stale, f"no longer needed, take it off the allow-list: {stale}"


def _is_redirect(node: ast.Call) -> bool:
    return isinstance(node.func, ast.Name) and node.func.id == "redirect"


def _says_303(node: ast.Call) -> bool:
    code = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "code"), None)
    return isinstance(code, ast.Constant) and code.value == 303


# Redirects that may answer with another code, each with why.
REDIRECTS_ALLOWED = {
    # Signed in already: answers a GET (302, as before) as well as a POST (303).
    ("app/accounts/views.py", "signup"): 1,
    ("app/accounts/views.py", "login"): 1,
    # "Sign in first": 302 for a GET as Flask-Login answers, 303 for a POST (tests/core/test_next_redirects.py).
    ("app/accounts/views.py", "init_login._sign_in_first"): 1,
}


def test_redirects_in_view_modules_are_303():
    """Every redirect in a view module answers a POST, or a GET for which See Other is as good (the browser follows
    with a GET either way); a redirect after a POST must be 303 so that no client repeats the POST."""
    seen: dict[tuple[str, str], int] = {}
    for path in _view_modules():
        for function, call in _calls(path, _is_redirect):
            if not _says_303(call):
                key = (path.relative_to(ROOT).as_posix(), function)
                seen[key] = seen.get(key, 0) + 1
    unexpected = {key: n for key, n in seen.items() if n > REDIRECTS_ALLOWED.get(key, 0)}
    assert not unexpected, f"redirect(url, 303) after a POST: {unexpected}"
    stale = {key for key in REDIRECTS_ALLOWED if key not in seen}
    assert not stale, f"no longer needed, take it off the allow-list: {stale}"
