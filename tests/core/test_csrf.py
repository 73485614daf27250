"""Every HTML POST route refuses a request without a CSRF token, and accepts one with a valid token.

The routes come from the URL map, so a route added later is covered without editing this file.
"""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from app import create_app
from tests.factories import csrf_token, login, make_user

CSRF_MESSAGE = "フォームの有効期限が切れました"


def _post_rules():
    # Building an app touches no database, so the URL map can be read at collection time.
    rules = []
    for rule in create_app("testing").url_map.iter_rules():
        if "POST" in (rule.methods or ()) and not rule.rule.startswith("/api/"):
            rules.append(rule.rule)
    return sorted(set(rules))


POST_RULES = _post_rules()


def _url(app, rule_text: str) -> str:
    """The rule's URL with dummy arguments: 1 for numbers, 'x' for everything else."""
    rule = next(r for r in app.url_map.iter_rules() if r.rule == rule_text)
    values = {
        name: 1 if isinstance(converter, IntegerConverter) else "x"
        for name, converter in rule._converters.items()
    }
    _domain, path = rule.build(values)
    return path


def test_the_url_map_has_post_routes():
    # Guard against the parametrisation silently collecting nothing.
    assert "/account/login" in POST_RULES
    assert "/language" in POST_RULES


@pytest.mark.parametrize("rule", POST_RULES)
def test_post_without_token_is_refused(app, client, rule):
    make_user(email="csrf@example.jp")
    login(client, "csrf@example.jp")
    response = client.post(_url(app, rule), data={"anything": "1"})
    assert response.status_code == 400, rule
    assert CSRF_MESSAGE in response.get_data(as_text=True)


@pytest.mark.parametrize("rule", POST_RULES)
def test_post_with_a_forged_token_is_refused(app, client, rule):
    response = client.post(_url(app, rule), data={"csrf_token": "forged." + "A" * 40})
    assert response.status_code == 400, rule
    assert CSRF_MESSAGE in response.get_data(as_text=True)


@pytest.mark.parametrize("rule", POST_RULES)
def test_post_with_a_valid_token_passes_the_csrf_check(app, client, rule):
    make_user(email="csrf@example.jp")
    login(client, "csrf@example.jp")
    token = csrf_token(client, "/")
    response = client.post(_url(app, rule), data={"csrf_token": token})
    body = response.get_data(as_text=True)
    assert not (response.status_code == 400 and CSRF_MESSAGE in body), rule
