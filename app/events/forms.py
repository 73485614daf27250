"""Event forms: the shape of input. Rules (dates, capacity, windows) live in services."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
    URLField,
    ValidationError,
    widgets,
)
from wtforms.validators import URL, DataRequired, Email, InputRequired, Length, NumberRange, Optional

from app.core.districts import District
from app.core.forms import BaseForm, SingleLine
from app.core.time import TOKYO, to_tokyo
from app.events.errors import InvalidEvent
from app.events.models import FOREIGN_LANGUAGES, Audience, EventCategory, Frequency, WardRelation
from app.events.recurrence import Rule
from app.events.series import SeriesInput, reading

REQUIRED = _l("入力してください。")


def _len(n: int):
    return Length(max=n, message=_l("%(max)d文字以内で入力してください。", max=n))


def _int_or_none(value):
    """Coerce for selects whose bad values the service refuses with its own message."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class BookingSelectField(SelectField):
    """The bookings one may use as the venue; a value not offered is refused by app.events.venue, clearly."""

    def pre_validate(self, form):
        return None


class CheckboxesField(SelectMultipleField):
    """Several checkboxes; unknown values are left to the service to refuse with a clear message."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def pre_validate(self, form):
        return None

    def process_formdata(self, valuelist):
        try:
            self.data = [self.coerce(value) for value in valuelist]
        except (ValueError, TypeError):
            self.data = []
            raise ValueError(_l("一覧から選んでください。")) from None


def _text_fields():
    fields = {}
    for suffix, language in (("ja", _l("日本語")), ("en", _l("英語")), ("easy", _l("やさしい日本語"))):
        required = [DataRequired(REQUIRED)] if suffix == "ja" else [Optional()]
        fields[f"title_{suffix}"] = StringField(_l("タイトル(%(lang)s)", lang=language),
                                                validators=[*required, _len(200)])
        fields[f"summary_{suffix}"] = TextAreaField(_l("概要(%(lang)s)", lang=language),
                                                    validators=[Optional(), _len(500)])
        fields[f"description_{suffix}"] = TextAreaField(_l("詳しい説明(%(lang)s)", lang=language),
                                                        validators=[Optional(), _len(20000)])
    return fields


class _EventFormBase(BaseForm):
    title_kana = StringField(_l("タイトルの読み(カタカナ、空欄は自動で付けます)"), validators=[Optional()])
    # Categories are checked by the service so an unknown value gets a message in the user's language.
    category = SelectField(_l("分類"), choices=[SelectChoice(c.value, c.label) for c in EventCategory],
                           validate_choice=False, validators=[InputRequired(REQUIRED)])
    audiences = CheckboxesField(_l("対象"), choices=[SelectChoice(a.value, a.label) for a in Audience])
    district = SelectField(_l("地区"), choices=[SelectChoice(d.value, d.label) for d in District],
                           validate_choice=False, validators=[InputRequired(REQUIRED)])
    venue_name = StringField(_l("会場名"), validators=[Optional(), _len(200)])
    venue_address = StringField(_l("会場の住所"), validators=[Optional(), _len(300)])
    room_booking_id = BookingSelectField(_l("施設の予約を会場にする(あなたか団体の予約)"), coerce=_int_or_none,
                                         choices=[])
    online_url = URLField(_l("オンライン参加のURL"), validators=[Optional(), _len(500),
                                                             URL(message=_l("URLの形が正しくありません。"))])
    fee_yen = IntegerField(_l("参加費(円、無料は0)"), default=0, validators=[InputRequired(REQUIRED), NumberRange(
        min=0, max=1_000_000, message=_l("0から1,000,000までの数で入力してください。"))])
    fee_note = StringField(_l("参加費の補足"), validators=[Optional(), _len(200)])
    registration_required = BooleanField(_l("申し込みが必要"), default=True)
    capacity = IntegerField(_l("定員(各回、制限なしは空欄)"), validators=[Optional(), NumberRange(
        min=1, max=100_000, message=_l("1から100,000までの数で入力してください。"))])
    registration_opens_at = DateTimeLocalField(_l("申込の受付開始(空欄は公開と同時)"), format="%Y-%m-%dT%H:%M",
                                               validators=[Optional()])
    registration_deadline_days = IntegerField(_l("申込締切(開催日の何日前まで、空欄は開始まで)"),
                                              validators=[Optional(), NumberRange(
                                                  min=0, max=365, message=_l("0から365までの数で入力してください。"))])
    wheelchair_accessible = BooleanField(_l("車いす可"))
    sign_language = BooleanField(_l("手話通訳あり"))
    captions = BooleanField(_l("要約筆記・字幕あり"))
    childcare = BooleanField(_l("託児あり"))
    no_smoking = BooleanField(_l("禁煙"))
    foreign_languages = CheckboxesField(_l("外国語対応"), choices=[SelectChoice(k, v)
                                                               for k, v in FOREIGN_LANGUAGES.items()])
    image = FileField(_l("画像(JPEG・PNG・WebP・GIF、5MBまで)"),
                      render_kw={"accept": "image/jpeg,image/png,image/webp,image/gif"})
    remove_image = BooleanField(_l("今の画像を削除する"))
    contact_name = StringField(_l("問い合わせ先の名前"), validators=[Optional(), _len(100)])
    contact_email = EmailField(_l("問い合わせ先のメール"), validators=[Optional(), _len(320), Email(
        message=_l("メールアドレスの形が正しくありません(例: name@example.jp)。"), check_deliverability=False)])
    contact_phone = StringField(_l("問い合わせ先の電話番号"), validators=[Optional(), _len(40)])
    partner_ids = CheckboxesField(_l("共催団体"), coerce=int, choices=[])
    frequency = SelectField(_l("繰り返し"), choices=[SelectChoice(f.value, f.label) for f in Frequency],
                            default=Frequency.ONCE.value, validate_choice=False)
    first_date = DateField(_l("開催日(繰り返しは最初の日)"), validators=[InputRequired(REQUIRED)])
    until_date = DateField(_l("繰り返しの終わりの日"), validators=[Optional()])
    nth = SelectField(_l("毎月第何週(毎月第n曜日のとき)"), coerce=_int_or_none, default=1, validate_choice=False,
                      choices=[
        SelectChoice(1, _l("第1")), SelectChoice(2, _l("第2")), SelectChoice(3, _l("第3")),
        SelectChoice(4, _l("第4")), SelectChoice(5, _l("第5")), SelectChoice(-1, _l("最終")),
    ])
    dates = TextAreaField(_l("開催日の一覧(日付を指定するとき、1行に1日 例: 2026-12-05)"),
                          validators=[Optional(), _len(4000)])
    start_time = TimeField(_l("開始時刻"), validators=[InputRequired(REQUIRED)])
    end_time = TimeField(_l("終了時刻"), validators=[InputRequired(REQUIRED)])

    def validate_title_kana(self, field):
        try:
            reading(field.data)
        except InvalidEvent as exc:
            raise ValidationError(exc.message) from None

    def validate_dates(self, field):
        self.parsed_dates = []
        for line in (field.data or "").split():
            try:
                self.parsed_dates.append(date.fromisoformat(line.strip()))
            except ValueError:
                raise ValidationError(_l("日付は 2026-12-05 の形で1行に1日ずつ入力してください。")) from None

    def to_input(self) -> SeriesInput:
        """The form's data for services.save_series."""
        opens = self.registration_opens_at.data
        return SeriesInput(
            texts={name: self[name].data for name in _text_fields()},
            category=self.category.data, audiences=list(self.audiences.data or []), district=self.district.data,
            venue_name=self.venue_name.data or None, venue_address=self.venue_address.data or None,
            online_url=self.online_url.data or None, fee_yen=self.fee_yen.data or 0,
            fee_note=self.fee_note.data or None, registration_required=bool(self.registration_required.data),
            capacity=self.capacity.data, registration_opens_at=opens.replace(tzinfo=TOKYO) if opens else None,
            registration_deadline_days=self.registration_deadline_days.data,
            accessibility={k: self[k].data for k in ("wheelchair_accessible", "sign_language", "captions",
                                                      "childcare", "no_smoking")},
            foreign_languages=list(self.foreign_languages.data or []),
            contact={k: self[k].data for k in ("contact_name", "contact_email", "contact_phone")},
            partner_ids=list(self.partner_ids.data or []), frequency=self.frequency.data,
            first_date=self.first_date.data, until_date=self.until_date.data, nth=self.nth.data,
            dates=getattr(self, "parsed_dates", []), start_time=self.start_time.data, end_time=self.end_time.data,
            title_kana=self.title_kana.data,
        )


EventForm = type("EventForm", (_EventFormBase,), _text_fields())
TEXT_FIELD_NAMES = tuple(_text_fields())


class SubmitForm(BaseForm):
    publish_at = DateTimeLocalField(_l("公開する日時(空欄はすぐ公開)"), format="%Y-%m-%dT%H:%M",
                                    validators=[Optional()])

    def publish_at_utc(self):
        """The chosen time as an aware instant (the form is in Tokyo time)."""
        value = self.publish_at.data
        return value.replace(tzinfo=TOKYO) if value else None


class CancelEventForm(BaseForm):
    reason = TextAreaField(_l("中止の理由(申込者にメールで伝わります)"),
                           validators=[DataRequired(REQUIRED), _len(2000)])


class ReviewForm(BaseForm):
    comment = TextAreaField(_l("団体へのコメント"), validators=[Optional(), _len(2000)])


class WardRelationForm(BaseForm):
    """Ward staff: how the ward stands to an event (区と連携・協働 / 区が支援 / neither)."""

    # The service refuses a value not in the list with its own message.
    ward_relation = SelectField(_l("区との関係"), choices=[], validators=[Optional()], validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ward_relation.choices = [("", str(_l("なし")))] + [(r.value, str(r.label)) for r in WardRelation]


def fill_from_series(form, series) -> None:
    """Put a saved series back into the form (editing)."""
    for name in TEXT_FIELD_NAMES + ("title_kana", "venue_name", "venue_address", "online_url", "fee_yen", "fee_note",
                                    "registration_required", "registration_deadline_days", "wheelchair_accessible",
                                    "sign_language", "captions", "childcare", "no_smoking", "contact_name",
                                    "contact_email", "contact_phone", "start_time", "end_time"):
        form[name].data = getattr(series, name)
    form.category.data = series.category.value
    form.district.data = series.district.value
    form.audiences.data = [a.value for a in series.audiences]
    form.foreign_languages.data = series.foreign_language_codes
    form.partner_ids.data = [row.organization_id for row in series.partner_rows]
    form.capacity.data = series.occurrences[0].capacity if series.occurrences else None
    if series.registration_opens_at:
        form.registration_opens_at.data = to_tokyo(series.registration_opens_at).replace(tzinfo=None)
    rule = Rule.from_dict(series.recurrence)
    form.frequency.data = series.frequency.value
    form.first_date.data, form.until_date.data = rule.first, rule.until
    form.nth.data = rule.nth or 1
    form.dates.data = "\n".join(d.isoformat() for d in rule.dates)


class GuestRegistrationForm(BaseForm):
    name = StringField(_l("お名前"), validators=[DataRequired(REQUIRED), _len(80), SingleLine()],
                       render_kw={"autocomplete": "name"})
    email = EmailField(_l("メールアドレス"), validators=[DataRequired(REQUIRED), _len(320), Email(
        message=_l("メールアドレスの形が正しくありません(例: name@example.jp)。"), check_deliverability=False)],
        render_kw={"autocomplete": "email", "inputmode": "email"})


class MessageForm(BaseForm):
    subject = StringField(_l("件名"), validators=[DataRequired(REQUIRED), _len(200), SingleLine()])
    body = TextAreaField(_l("本文"), validators=[DataRequired(REQUIRED), _len(5000)])
    include_waitlisted = BooleanField(_l("キャンセル待ちの方にも送る"))


class OccurrenceForm(BaseForm):
    scope = SelectField(_l("変更する範囲"), default="one", choices=[
        SelectChoice("one", _l("この回だけ")), SelectChoice("following", _l("この回とそれ以降の回")),
    ])
    day = DateField(_l("開催日(この回だけのとき)"), validators=[InputRequired(REQUIRED)])
    start_time = TimeField(_l("開始時刻"), validators=[InputRequired(REQUIRED)])
    end_time = TimeField(_l("終了時刻"), validators=[InputRequired(REQUIRED)])
    capacity = IntegerField(_l("定員(制限なしは空欄)"), validators=[Optional(), NumberRange(
        min=1, max=100_000, message=_l("1から100,000までの数で入力してください。"))])
    room_booking_id = BookingSelectField(_l("この回の会場にする施設の予約(この回だけ)"), coerce=_int_or_none,
                                         choices=[])
