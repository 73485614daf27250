"""Indicator forms: the shape of a staff-entered value. Range rules live in services.parse_value."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import InputRequired, Length, Optional

from app.core.filters import fiscal_year_label
from app.core.forms import BaseForm
from app.core.time import fiscal_year, today_tokyo
from app.events.models import EventCategory, WardRelation
from app.indicators.services import FIRST_FISCAL_YEAR
from app.organizations.models import OrganizationKind

REQUIRED = _l("入力してください。")


def fiscal_year_choices() -> list[SelectChoice]:
    """Fiscal years a value may be entered for: the plan's first baseline year to the current one, newest first."""
    last = fiscal_year(today_tokyo())
    return [
        SelectChoice(str(year), fiscal_year_label(year))
        for year in range(last, FIRST_FISCAL_YEAR - 1, -1)
    ]


class ManualValueForm(BaseForm):
    """A survey result or other figure entered by ward staff, with its source."""

    fiscal_year = SelectField(_l("年度"), validators=[InputRequired(REQUIRED)])
    # Text, not a number field: the service explains what is wrong with what was typed, and keeps it.
    value = StringField(_l("値"), validators=[Length(max=40, message=_l("40文字以内で入力してください。"))])
    source_document = StringField(
        _l("出典(調査名・資料名)"), validators=[Length(max=300, message=_l("300文字以内で入力してください。"))]
    )
    source_date = DateField(_l("出典の日付(公表日・調査日)"), validators=[Optional()])
    note = TextAreaField(
        _l("メモ"), validators=[Optional(), Length(max=2000, message=_l("2000文字以内で入力してください。"))]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fiscal_year.choices = fiscal_year_choices()


class CheckboxesField(SelectMultipleField):
    """Several checkboxes; values not in the list are refused by the service with a clear message."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def pre_validate(self, form):
        return None


class RulesForm(BaseForm):
    """The mapping rules of an event-based indicator: which events feed it. Previewed before saving."""

    categories = CheckboxesField(_l("イベントの分類"), choices=[])
    organization_kinds = CheckboxesField(_l("主催団体の種類"), choices=[])
    ward_relations = CheckboxesField(_l("区との関係(区の職員が付けた印)"), choices=[])
    series = StringField(
        _l("個別のイベント(イベント番号をコンマで区切る)"),
        validators=[Length(max=2000, message=_l("2000文字以内で入力してください。"))],
    )
    preview_year = SelectField(_l("プレビューする年度"), validators=[InputRequired(REQUIRED)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.categories.choices = [(c.value, str(c.label)) for c in EventCategory]
        self.organization_kinds.choices = [(k.value, str(k.label)) for k in OrganizationKind]
        self.ward_relations.choices = [(r.value, str(r.label)) for r in WardRelation]
        self.preview_year.choices = fiscal_year_choices()


class RoomRulesForm(BaseForm):
    """The room rule of a booking count (「交流の間」利用件数): which rooms' bookings it counts. Previewed first."""

    rooms = CheckboxesField(_l("数える部屋"), choices=[])
    preview_year = SelectField(_l("プレビューする年度"), validators=[InputRequired(REQUIRED)])

    def __init__(self, *args, rooms=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.rooms.choices = [(str(room.id), f"{room.facility.name_ja} {room.name_ja}") for room in rooms]
        self.preview_year.choices = fiscal_year_choices()


class YearActionForm(BaseForm):
    """A button that freezes or reopens a fiscal year (CSRF only)."""


class FreezeYearForm(BaseForm):
    """The button of the freeze confirmation page: `confirmed` tells a POST that the person saw the values."""

    confirmed = HiddenField()
