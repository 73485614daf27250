"""Base form: CSRF from Flask-WTF, stripped text, messages through Babel."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.validators import ValidationError

from app.core.mail import has_control_characters


def _strip(value):
    # NUL never comes from a keyboard, and PostgreSQL refuses it in text columns (a 500 instead of a page).
    return value.replace("\x00", "").strip() if isinstance(value, str) else value


class BaseForm(FlaskForm):
    """Every form derives from this: whitespace around text and NUL characters are dropped before validation."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            filters = unbound_field.kwargs.get("filters", [])
            if _strip not in filters and unbound_field.field_class.__name__ not in {"PasswordField", "FileField"}:
                filters = [_strip, *filters]
            return unbound_field.bind(form=form, filters=filters, **options)


class ActionForm(BaseForm):
    """A POST with no fields but the CSRF token (logout, revoke, confirm, delete)."""


class SingleLine:
    """Refuses line breaks and other control characters in a one-line field (a name, a mail subject).

    A browser never sends them from an <input>; a crafted POST can, and a value that reaches a mail header with
    CR/LF makes the mail fail in the outbox after the page said it was sent.
    """

    def __init__(self, message=None):
        self.message = message

    def __call__(self, form, field):
        if isinstance(field.data, str) and has_control_characters(field.data):
            raise ValidationError(self.message or _l("改行などの特別な文字は使えません。1行で入力してください。"))
