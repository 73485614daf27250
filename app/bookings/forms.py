"""Booking forms: the shape of input. Rules (window, capacity, closures, fees) live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.core.converters import parse_id
from app.core.forms import BaseForm
from app.facilities.models import ClosureKind, UserCategory

REQUIRED = _l("入力してください。")


class MultiCheckboxField(SelectMultipleField):
    """Checkboxes for a multiple choice (the 時間区分 of a day)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _optional_int(value):
    """An id from a select, or None for the empty choice. Anything else that is not an id (text, a number beyond
    the id column) becomes 0, which names nothing: the service then says "not found" in the user's language."""
    if value in (None, "", "None"):
        return None
    return parse_id(value)


class BookingForm(BaseForm):
    """Choose a day, slots, purpose, attendees, fee category and optionally the group booking."""

    room_id = HiddenField()
    day = DateField(_l("利用日"), validators=[InputRequired(REQUIRED)], render_kw={"autocomplete": "off"},
                    invalid_value_message=_l("日付を正しく入力してください(例: 2026-12-01)。"))
    # The service checks the keys (unknown slot, another facility's slot) with a message in the user's language.
    units = MultiCheckboxField(_l("時間区分"), choices=[], validate_choice=False)
    equipment = MultiCheckboxField(_l("付帯設備(別料金)"), choices=[], coerce=parse_id, validate_choice=False)
    purpose = StringField(_l("利用目的"), validators=[DataRequired(REQUIRED),
                                                   Length(max=200, message=_l("200文字以内で入力してください。"))])
    attendees = IntegerField(_l("利用人数"), validators=[
        InputRequired(_l("人数を数字で入力してください。")),
        NumberRange(min=1, max=10000, message=_l("人数は1人以上で入力してください。")),
    ], render_kw={"inputmode": "numeric"}, invalid_value_message=_l("人数を数字で入力してください。"))
    category = SelectField(_l("利用区分"), choices=[SelectChoice(c.value, c.label) for c in UserCategory],
                           default=UserCategory.RESIDENT.value)
    organization_id = SelectField(_l("団体として予約する"), choices=[], coerce=_optional_int,
                                  validate_choice=False, validators=[Optional()])
    confirm = HiddenField()

    @property
    def category_value(self) -> UserCategory:
        try:
            return UserCategory(self.category.data)
        except ValueError:
            return UserCategory.RESIDENT


class ExemptDayForm(BaseForm):
    """Staff: a day on which late cancellations and no-shows bar nobody."""

    day = DateField(_l("対象日"), validators=[InputRequired(REQUIRED)],
                    invalid_value_message=_l("日付を正しく入力してください(例: 2026-12-01)。"))
    reason = StringField(_l("理由"), validators=[DataRequired(REQUIRED),
                                               Length(max=300, message=_l("300文字以内で入力してください。"))])


class ClosureForm(BaseForm):
    """Staff: close the facility or one room for a period."""

    room_id = SelectField(_l("対象"), choices=[], coerce=_optional_int, validate_choice=False,
                          validators=[Optional()])
    kind = SelectField(_l("種類"), choices=[SelectChoice(k.value, k.label) for k in ClosureKind],
                       default=ClosureKind.TEMPORARY.value)
    first_day = DateField(_l("開始日"), validators=[InputRequired(REQUIRED)],
                          invalid_value_message=_l("日付を正しく入力してください(例: 2026-12-01)。"))
    last_day = DateField(_l("終了日(この日も休館)"), validators=[InputRequired(REQUIRED)],
                         invalid_value_message=_l("日付を正しく入力してください(例: 2026-12-01)。"))
    reason = StringField(_l("理由"), validators=[DataRequired(REQUIRED),
                                               Length(max=300, message=_l("300文字以内で入力してください。"))])


class StaffBookingForm(BookingForm):
    """The desk books for a resident who phones or comes in, found by the e-mail of their account, or for a
    registered group (then the e-mail, optional, names the group's contact; else its first officer)."""

    user_email = StringField(_l("利用者のメールアドレス"), validators=[
        Optional(), Length(max=320, message=_l("320文字以内で入力してください。"))])
    # Shown only when the resident is barred (late cancellation, no-show): staff book anyway on purpose, with a reason
    # that goes into the audit log. The view decides whether they are needed.
    ban_override = BooleanField(_l("利用制限中と確かめたうえで、職員の判断で予約する"))
    ban_reason = StringField(_l("例外とする理由"), validators=[
        Optional(), Length(max=200, message=_l("200文字以内で入力してください。"))])

    def validate(self, extra_validators=None) -> bool:
        return _names_a_party(self, super().validate(extra_validators))


def _names_a_party(form, ok: bool) -> bool:
    """The desk books for someone: an account's e-mail, or a registered group."""
    if ok and not form.user_email.data and form.organization_id.data is None:
        form.user_email.errors.append(_l("利用者のメールアドレスを入力するか、団体を選んでください。"))
        return False
    return ok


def _interval(value) -> int:
    return 2 if str(value) == "2" else 1


class SeriesForm(BookingForm):
    """A weekly series: the first day's 時間区分 every week (or every 2 weeks), N times or until a day."""

    interval_weeks = SelectField(_l("くり返し"), choices=[SelectChoice(1, _l("毎週")), SelectChoice(2, _l("2週ごと"))],
                                 default=1, coerce=_interval, validate_choice=False)
    count = IntegerField(_l("回数"), validators=[
        Optional(), NumberRange(min=2, max=52, message=_l("回数は2回から52回までにしてください。"))],
        render_kw={"inputmode": "numeric"}, invalid_value_message=_l("回数を数字で入力してください。"))
    until = DateField(_l("最後の日(この日まで)"), validators=[Optional()],
                      invalid_value_message=_l("日付を正しく入力してください(例: 2026-12-01)。"))
    mode = StringField()  # the button pressed on the plan: "all" or "free" (never rendered as a field)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and self.count.data is None and self.until.data is None:
            self.count.errors.append(_l("回数か最後の日のどちらかを入力してください。"))
            ok = False
        return ok


class StaffSeriesForm(SeriesForm):
    """The desk books a weekly series for a resident or a registered group (as StaffBookingForm does one date)."""

    user_email = StaffBookingForm.user_email
    ban_override = StaffBookingForm.ban_override
    ban_reason = StaffBookingForm.ban_reason

    def validate(self, extra_validators=None) -> bool:
        return _names_a_party(self, super().validate(extra_validators))
