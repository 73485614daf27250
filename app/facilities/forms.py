"""Facility forms: the shape of input (staff uploading photos, giving the name's reading)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.core.forms import BaseForm
from app.facilities.errors import FacilityError
from app.facilities.services import name_reading


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


class PhotoForm(BaseForm):
    """A photo of the facility or one of its rooms, with what it shows in words (alt text) per language."""

    photo = FileField(_l("写真(JPEG・PNG・WebP・GIF、5MBまで)"),
                      validators=[FileRequired(_l("写真を選んでください。"))],
                      render_kw={"accept": "image/jpeg,image/png,image/webp,image/gif"})
    room_id = SelectField(_l("写っている場所"), choices=[], coerce=_optional_int, validate_choice=False,
                          validators=[Optional()])
    alt_ja = StringField(_l("写真の説明(日本語、読み上げに使います)"), validators=[
        DataRequired(_l("写真の説明を入力してください。")),
        Length(max=200, message=_l("200文字以内で入力してください。"))])
    alt_en = StringField(_l("写真の説明(英語)"), validators=[
        Optional(), Length(max=200, message=_l("200文字以内で入力してください。"))])
    alt_easy = StringField(_l("写真の説明(やさしい日本語)"), validators=[
        Optional(), Length(max=200, message=_l("200文字以内で入力してください。"))])


class FacilityReadingForm(BaseForm):
    """The facility name's reading in katakana (名称_カナ of the open data); empty: generated from the name."""

    name_kana = StringField(_l("名称(カナ)"), validators=[Optional()])

    def validate_name_kana(self, field):
        try:
            name_reading(field.data)
        except FacilityError as exc:
            raise ValidationError(exc.message) from None
