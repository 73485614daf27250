"""Forms of the door (check-in code, walk-ins) and of participation reports and their review."""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from app.core.forms import BaseForm
from app.participation.models import BREAKDOWN_FIELDS, CheckinMethod, CountingMethod

REQUIRED = _l("入力してください。")


class CountField(IntegerField):
    """A number of people: full-width digits and thousands separators accepted, a clear message otherwise."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = unicodedata.normalize("NFKC", valuelist[0] or "").replace(",", "").replace(" ", "").strip()
        if raw == "":
            self.data = None
            return
        try:
            self.data = int(raw)
        except ValueError:
            self.data = None
            raise ValueError(_l("人数は数字で入力してください。")) from None


class CheckinCodeForm(BaseForm):
    """A typed (or scanned) registration code."""

    code = StringField(_l("受付番号"), validators=[InputRequired(REQUIRED), Length(max=80)])
    # Set to "qr" by static/js/checkin.js when the camera read the code.
    via = HiddenField(default=CheckinMethod.CODE.value)


class WalkinForm(BaseForm):
    """+1 / -1 on the walk-in counter."""

    delta = HiddenField(validators=[InputRequired()])


BREAKDOWN_LABELS = {
    "age_children": _l("子ども"),
    "age_youth": _l("若者"),
    "age_parents": _l("子育て世代"),
    "age_working": _l("現役世代"),
    "age_seniors": _l("高齢者"),
    "residents": _l("区民"),
    "commuters": _l("在勤・在学"),
    "outside_ward": _l("区外"),
    "foreign_language": _l("外国語で参加した人"),
    "easy_japanese": _l("やさしい日本語で参加した人"),
    "first_time": _l("初めて参加した人"),
    "volunteers": _l("ボランティア・スタッフ"),
}


class ReportForm(BaseForm):
    """A participation report; rules (sums, timing) are checked by the service."""

    total = CountField(_l("参加者数(合計)"), validators=[InputRequired(REQUIRED)])
    counting_method = SelectField(_l("数え方"), choices=[SelectChoice(m.value, m.label) for m in CountingMethod],
                                  validators=[InputRequired(REQUIRED)])
    notes = TextAreaField(_l("メモ"), validators=[
        Optional(), Length(max=2000, message=_l("2000文字以内で入力してください。"))])


for _name in BREAKDOWN_FIELDS:
    setattr(ReportForm, _name, CountField(BREAKDOWN_LABELS[_name], validators=[Optional()]))


class ReturnReportForm(BaseForm):
    """Staff send a report back with a reason."""

    comment = TextAreaField(_l("差し戻す理由"), validators=[InputRequired(REQUIRED), Length(max=2000)])
