"""Every HTML POST (and PUT/PATCH/DELETE) route refuses a request without a CSRF token, and accepts a valid one.

The routes come from the URL map, so a route added later is covered without editing this file.
"""

from __future__ import annotations

import uuid

import pytest
from werkzeug.routing import FloatConverter, IntegerConverter, UUIDConverter

from app import create_app
from tests.factories import csrf_token, login, make_user

CSRF_MESSAGE = "フォームの有効期限が切れました"


UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def _post_rules():
    # Building an app touches no database, so the URL map can be read at collection time.
    rules = set()
    for rule in create_app("testing").url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            continue  # bearer tokens, no cookies: CSRF-exempt by design
        rules.update((rule.rule, method) for method in UNSAFE if method in (rule.methods or ()))
    return sorted(rules)


POST_RULES = _post_rules()


def _dummy(converter):
    if isinstance(converter, IntegerConverter | FloatConverter):
        return 1
    if isinstance(converter, UUIDConverter):
        return uuid.UUID(int=1)
    return "x"


def _url(app, rule_text: str) -> str:
    """The rule's URL with dummy arguments: 1 for numbers, a UUID for UUIDs, 'x' for everything else."""
    rule = next(r for r in app.url_map.iter_rules() if r.rule == rule_text)
    values = {name: _dummy(converter) for name, converter in rule._converters.items()}
    _domain, path = rule.build(values)
    return path


def test_the_url_map_has_post_routes():
    # Guard against the parametrisation silently collecting nothing.
    assert ("/account/login", "POST") in POST_RULES
    assert ("/language", "POST") in POST_RULES


@pytest.mark.parametrize(("rule", "method"), POST_RULES)
def test_post_without_token_is_refused(app, client, rule, method):
    client.get("/")  # a session exists, as in a real browser; only the token is missing
    response = client.open(_url(app, rule), method=method, data={"anything": "1"})
    assert response.status_code == 400, rule
    assert CSRF_MESSAGE in response.get_data(as_text=True)


@pytest.mark.parametrize(("rule", "method"), POST_RULES)
def test_post_with_a_forged_token_is_refused(app, client, rule, method):
    response = client.open(_url(app, rule), method=method, data={"csrf_token": "forged." + "A" * 40})
    assert response.status_code == 400, rule
    assert CSRF_MESSAGE in response.get_data(as_text=True)


@pytest.mark.parametrize(("rule", "method"), POST_RULES)
def test_post_with_a_valid_token_passes_the_csrf_check(app, client, rule, method):
    make_user(email="csrf@example.jp")
    login(client, "csrf@example.jp")
    token = csrf_token(client, "/")
    response = client.open(_url(app, rule), method=method, data={"csrf_token": token})
    body = response.get_data(as_text=True)
    assert not (response.status_code == 400 and CSRF_MESSAGE in body), rule
