"""Forms of the alerts pages: the shape of a watch (the service checks the rules)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, HiddenField, SelectField
from wtforms.validators import InputRequired, Optional

from app.core.converters import parse_id
from app.core.forms import BaseForm


def _optional_int(value):
    """None for the empty choice ("any"); otherwise an id, or 0 (names nothing: the service says "not found")
    for what is not one, rather than silently "any" or a number beyond the id column (the database's overflow)."""
    return None if value in (None, "", "None") else parse_id(value)


class WatchForm(BaseForm):
    """Be told when a room (or any room of the facility) frees up on a day, in one 時間区分 or any."""

    facility_id = HiddenField()
    room_id = SelectField(_l("部屋"), choices=[], coerce=_optional_int, validate_choice=False, validators=[Optional()])
    day = DateField(_l("利用日"), validators=[InputRequired(_l("入力してください。"))],
                    invalid_value_message=_l("日付を正しく入力してください(例: 2026-12-01)。"))
    slot_id = SelectField(_l("時間区分"), choices=[], coerce=_optional_int, validate_choice=False,
                          validators=[Optional()])
