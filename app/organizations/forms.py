"""Organization forms: the shape of input. Rules live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import URL, DataRequired, Email, InputRequired, Length, NumberRange, Optional

from app.core.districts import District
from app.core.forms import BaseForm
from app.organizations.models import MembershipRole, OrganizationKind

REQUIRED = _l("入力してください。")


def _len(n: int):
    return Length(max=n, message=_l("%(max)d文字以内で入力してください。", max=n))


def _email(label):
    return EmailField(label, validators=[Optional(), _len(320), Email(
        message=_l("メールアドレスの形が正しくありません(例: name@example.jp)。"), check_deliverability=False)])


def _count(label):
    return IntegerField(label, validators=[Optional(), NumberRange(
        min=0, max=1_000_000, message=_l("0から1,000,000までの数で入力してください。"))])


class OrganizationForm(BaseForm):
    kind = SelectField(_l("種類"), choices=[SelectChoice(k.value, k.label) for k in OrganizationKind],
                       validators=[InputRequired(REQUIRED)])
    district = SelectField(_l("地区"), choices=[SelectChoice(d.value, d.label) for d in District],
                           validators=[InputRequired(REQUIRED)])
    name_ja = StringField(_l("団体名(日本語)"), validators=[DataRequired(REQUIRED), _len(200)])
    name_en = StringField(_l("団体名(英語)"), validators=[Optional(), _len(200)])
    name_easy = StringField(_l("団体名(やさしい日本語)"), validators=[Optional(), _len(200)])
    description_ja = TextAreaField(_l("紹介文(日本語)"), validators=[Optional(), _len(5000)])
    description_en = TextAreaField(_l("紹介文(英語)"), validators=[Optional(), _len(5000)])
    description_easy = TextAreaField(_l("紹介文(やさしい日本語)"), validators=[Optional(), _len(5000)])
    public_email = _email(_l("公開する連絡先メール"))
    public_phone = StringField(_l("公開する電話番号"), validators=[Optional(), _len(40)])
    website_url = URLField(_l("ウェブサイト"), validators=[Optional(), _len(500),
                                                        URL(message=_l("URLの形が正しくありません。"))])
    contact_name = StringField(_l("担当者名(非公開)"), validators=[Optional(), _len(100)])
    contact_email = _email(_l("担当者メール(非公開)"))
    contact_phone = StringField(_l("担当者電話番号(非公開)"), validators=[Optional(), _len(40)])
    member_count = _count(_l("会員数"))
    shop_count = _count(_l("店舗数(商店会のみ)"))
    in_shotengai_federation = BooleanField(_l("港区商店街連合会に加入している(商店会のみ)"))
    logo = FileField(_l("ロゴ画像(JPEG・PNG・WebP・GIF、5MBまで)"),
                     render_kw={"accept": "image/jpeg,image/png,image/webp,image/gif"})
    remove_logo = BooleanField(_l("今のロゴを削除する"))

    def values(self) -> dict:
        """The submitted values as the service expects them."""
        data = {name: field.data for name, field in self._fields.items() if name != "csrf_token"}
        data["kind"] = OrganizationKind(data["kind"])
        data["district"] = District(data["district"])
        return data


class VerifyForm(BaseForm):
    verified_until = DateField(_l("登録の有効期限"), validators=[InputRequired(REQUIRED)])


class RejectForm(BaseForm):
    reason = TextAreaField(_l("理由(団体に伝わります)"), validators=[DataRequired(REQUIRED), _len(2000)])


class InviteForm(BaseForm):
    email = EmailField(_l("招待する人のメールアドレス"), validators=[DataRequired(REQUIRED), _len(320), Email(
        message=_l("メールアドレスの形が正しくありません(例: name@example.jp)。"), check_deliverability=False)])
    role = SelectField(_l("役割"), choices=[SelectChoice(r.value, r.label) for r in MembershipRole],
                       default=MembershipRole.EDITOR.value)


class HandOverForm(BaseForm):
    successor = SelectField(_l("引き継ぐ相手"), coerce=int, validators=[InputRequired(REQUIRED)])
    stay_as = SelectField(_l("引き継いだ後のご自身の役割"), default=MembershipRole.EDITOR.value, choices=[
        SelectChoice(MembershipRole.EDITOR.value, MembershipRole.EDITOR.label),
        SelectChoice(MembershipRole.MEMBER.value, MembershipRole.MEMBER.label),
    ])


class RoleForm(BaseForm):
    role = SelectField(_l("役割"), choices=[SelectChoice(r.value, r.label) for r in MembershipRole])


class NpoGrantForm(BaseForm):
    fiscal_year = IntegerField(_l("年度(西暦の開始年)"), validators=[InputRequired(REQUIRED), NumberRange(
        min=2000, max=2100, message=_l("年度が正しくありません。"))])
    uses_grant = BooleanField(_l("NPO活動助成制度を利用する"))
