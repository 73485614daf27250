"""Every template with a POST form that has fields a person fills in shows the error summary (`form_errors`).

The Digital Agency's form pattern (templates/_macros/forms.html): a summary at the top listing each error as a
link to its field. A form of hidden fields and a button (sign out, language, approve, cancel) has nothing to
summarise; those pass on their own, since they show no visible control.
"""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
POST_FORM = re.compile(r'<form\s[^>]*method="post"[^>]*>(.*?)</form>', re.S | re.I)
# A control a person sees: a field() call, an include of fields (the lottery preferences), or raw markup.
VISIBLE = re.compile(r'\bfield\(|\{%-?\s*include\s|<textarea\b|<select\b|<input\b(?![^>]*type="hidden")', re.I)
# Forms with visible fields whose errors are not rendered on the page itself, and why.
ALLOWED = {
    # one small form per row of a review queue: the view answers a missing value with a flash and a redirect
    "events/review.html",
    "organizations/review.html",
    # one small select per event row: the service refuses a value not in the list with a flash and a redirect
    "events/ward_relations.html",
}


def _templates_with_fields() -> dict[str, list[str]]:
    found = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        forms = [body for body in POST_FORM.findall(path.read_text(encoding="utf-8")) if VISIBLE.search(body)]
        if forms:
            found[name] = forms
    return found


def test_every_post_form_with_fields_shows_the_error_summary():
    found = _templates_with_fields()
    assert "accounts/signup.html" in found and "bookings/new.html" in found  # the walk finds forms at all
    missing = [name for name in found if name not in ALLOWED
               and "form_errors(" not in (TEMPLATES / name).read_text(encoding="utf-8")]
    assert missing == [], f"POST forms with fields but no error summary: {missing}"


def test_allow_list_is_not_stale():
    found = _templates_with_fields()
    assert sorted(name for name in ALLOWED if name not in found) == []


def test_labels_in_post_forms_are_above_their_controls():
    """A bare <label> in a POST form sits beside its control on a wide screen: it belongs in a div.field (or the
    field() macro), or it is a checkbox label (class="check") or visually hidden."""
    offenders = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for body in POST_FORM.findall(text):
            for match in re.finditer(r"<label\b[^>]*>", body):
                tag = match.group(0)
                if "check" in tag or "visually-hidden" in tag:
                    continue
                before = body[:match.start()].rstrip()
                if not before.endswith('<div class="field">'):
                    offenders.append((path.relative_to(TEMPLATES).as_posix(), tag))
    assert offenders == []
