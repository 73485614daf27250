"""Lottery forms: the shape of a period's configuration, an entry's ranked preferences, a winner's confirmation.
Rules (windows, tiers, which slots are drawn) live in app/lottery/entries.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectChoice,
    SelectField,
)
from wtforms.fields import MonthField
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from app.bookings.forms import REQUIRED, BookingForm, MultiCheckboxField, _optional_int
from app.core.forms import BaseForm
from app.core.time import today_tokyo
from app.lottery.draw import SlotKey

DATE_MESSAGE = _l("日付を正しく入力してください(例: 2026-12-01)。")
MAX_TIERS = 4
FIRST_YEAR, YEARS_AHEAD = 2000, 10


def _plausible_day(form, field) -> None:
    """A lottery's days lie between 2000 and ten years ahead: a year typo (0001, 9999) is never meant, and the
    period's bounds (the day after, the month after, the Tokyo/UTC conversion) would overflow beyond them."""
    value = field.data.date() if isinstance(field.data, datetime) else field.data
    if value is not None and not date(FIRST_YEAR, 1, 1) <= value <= date(today_tokyo().year + YEARS_AHEAD, 12, 31):
        raise ValidationError(_l("2000年から10年先までの日付にしてください。"))


class TierForm(Form):
    """One priority tier (a sub-form: the CSRF token is the parent's)."""

    kinds = MultiCheckboxField(_l("申込者の種類"), choices=[], validate_choice=False)
    opens_on = DateField(_l("受付開始日"), validators=[Optional(), _plausible_day],
                         invalid_value_message=DATE_MESSAGE)
    closes_on = DateField(_l("受付終了日(この日まで)"), validators=[Optional(), _plausible_day],
                          invalid_value_message=DATE_MESSAGE)

    @property
    def is_blank(self) -> bool:
        return not self.kinds.data and self.opens_on.data is None and self.closes_on.data is None


class PeriodForm(BaseForm):
    """Staff: open or change a lottery period."""

    class Meta(BaseForm.Meta):
        def bind_field(self, form, unbound_field, options):
            if unbound_field.field_class in (FieldList, FormField):  # they take no filters (TierForm has none)
                return unbound_field.bind(form=form, **options)
            return BaseForm.Meta.bind_field(self, form, unbound_field, options)

    room_id = SelectField(_l("対象"), choices=[], coerce=_optional_int, validate_choice=False, validators=[Optional()])
    month = MonthField(_l("対象の月"), validators=[InputRequired(REQUIRED), _plausible_day],
                       invalid_value_message=_l("月を正しく入力してください(例: 2027-04)。"))
    entries_per_group = IntegerField(_l("1団体の申込数"), default=1, validators=[
        InputRequired(_l("数字で入力してください。")),
        NumberRange(min=1, max=10, message=_l("1から10までの数字で入力してください。"))],
        invalid_value_message=_l("数字で入力してください。"))
    max_preferences = IntegerField(_l("1申込の希望数"), default=3, validators=[
        InputRequired(_l("数字で入力してください。")),
        NumberRange(min=1, max=10, message=_l("1から10までの数字で入力してください。"))],
        invalid_value_message=_l("数字で入力してください。"))
    allow_individuals = BooleanField(_l("個人も申し込める"))
    tiers = FieldList(FormField(TierForm), min_entries=MAX_TIERS, max_entries=MAX_TIERS)
    draw_date = DateField(_l("抽選日"), validators=[InputRequired(REQUIRED), _plausible_day],
                          invalid_value_message=DATE_MESSAGE)
    confirm_until_on = DateField(_l("当選者の確定期限(この日まで)"),
                                 validators=[InputRequired(REQUIRED), _plausible_day],
                                 invalid_value_message=DATE_MESSAGE)
    leftovers_open_at = DateTimeLocalField(
        _l("先着順の受付開始(日時)"), format="%Y-%m-%dT%H:%M", validators=[InputRequired(REQUIRED), _plausible_day],
        invalid_value_message=_l("日時を正しく入力してください(例: 2027-03-20 09:00)。"))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for tier in self.tiers:
            if tier.is_blank:
                continue
            if not tier.kinds.data:
                tier.kinds.errors = [*tier.kinds.errors, _l("申込者の種類を選んでください。")]
                ok = False
            for f in (tier.opens_on, tier.closes_on):
                if f.data is None and not f.errors:
                    f.errors = [*f.errors, REQUIRED]
                    ok = False
        if all(t.is_blank for t in self.tiers):
            self.tiers.errors = [_l("優先順位を1つ以上設定してください。")]
            ok = False
        return ok


class ApplyForm(BaseForm):
    """Who applies (a group, or oneself); the ranked preferences are rows read by read_preferences."""

    applicant = SelectField(_l("申込者"), choices=[], validate_choice=False)


class ConfirmAwardForm(BaseForm):
    """A winner confirms the slot: what any booking asks (purpose, attendees, fee category)."""

    purpose = BookingForm.purpose
    attendees = BookingForm.attendees
    category = BookingForm.category

    category_value = BookingForm.category_value


@dataclass
class PreferenceRow:
    """A preference row as typed (kept to show the form again), its slot when complete, and its error."""

    room: str = ""
    day: str = ""
    slot: str = ""
    key: SlotKey | None = None
    error: str | None = None

    @property
    def is_blank(self) -> bool:
        return not (self.room or self.day or self.slot)


def read_preferences(formdata, k: int) -> tuple[list[PreferenceRow], bool]:
    """Rows pref-1-room / pref-1-day / pref-1-slot ...; blank rows are skipped, the order is the ranking.
    Returns the rows (at least K, for the form) and whether every filled row is complete and well-formed."""
    numbers = {int(name.split("-")[1]) for name in formdata if name.startswith("pref-")
               and name.count("-") == 2 and name.split("-")[1].isascii() and name.split("-")[1].isdigit()
               and int(name.split("-")[1]) <= 100}  # "²".isdigit() is True, yet int("²") fails
    rows: list[PreferenceRow] = []
    ok = True
    for n in range(1, max([k, *numbers]) + 1):
        row = PreferenceRow(formdata.get(f"pref-{n}-room", "").strip(), formdata.get(f"pref-{n}-day", "").strip(),
                            formdata.get(f"pref-{n}-slot", "").strip())
        rows.append(row)
        if row.is_blank:
            continue
        if not (row.room and row.day and row.slot):
            row.error = str(_l("部屋・日付・時間区分をすべて選んでください。"))
            ok = False
            continue
        try:
            row.key = SlotKey(int(row.room), date.fromisoformat(row.day), row.slot[:32])
        except ValueError:
            row.error = str(DATE_MESSAGE)
            ok = False
    return rows, ok


def rows_for(preferences, k: int) -> list[PreferenceRow]:
    """Form rows showing an entry's stored preferences, padded to K."""
    rows = [PreferenceRow(str(p.room_id), p.day.isoformat(), p.slot_code) for p in preferences]
    return rows + [PreferenceRow() for _ in range(max(0, k - len(rows)))]


def kind_choices(labels) -> list[SelectChoice]:
    """Checkbox choices for a tier's applicant kinds."""
    return [SelectChoice(value, str(label)) for value, label in labels]
