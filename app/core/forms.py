"""Base form: CSRF from Flask-WTF, stripped text, messages through Babel."""

from __future__ import annotations

from flask_wtf import FlaskForm


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
