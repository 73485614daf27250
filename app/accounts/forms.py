"""Account forms: the shape of input. Rules (password strength, uniqueness) live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length

from app.accounts.models import TOKEN_SCOPE_FULL, TOKEN_SCOPE_READ
from app.core.forms import BaseForm, SingleLine
from app.core.i18n import LANGUAGES

REQUIRED = _l("入力してください。")


def _email_field():
    return EmailField(
        _l("メールアドレス"),
        validators=[
            DataRequired(REQUIRED),
            Length(max=320, message=_l("320文字以内で入力してください。")),
            Email(
                message=_l("メールアドレスの形が正しくありません(例: name@example.jp)。"), check_deliverability=False
            ),
        ],
        render_kw={"autocomplete": "email", "inputmode": "email"},
    )


def _language_field():
    return SelectField(
        _l("表示する言語"),
        choices=[SelectChoice(code, lang.label, render_kw={"lang": lang.html_lang}) for code, lang in LANGUAGES.items()],  # noqa: E501
        default="ja",
    )


def _display_name_field():
    return StringField(
        _l("表示名"),
        validators=[DataRequired(REQUIRED), Length(max=80, message=_l("80文字以内で入力してください。")),
                    SingleLine()],
        render_kw={"autocomplete": "nickname"},
    )


def _new_password_fields():
    password = PasswordField(
        _l("パスワード(10文字以上)"),
        validators=[InputRequired(REQUIRED)],
        render_kw={"autocomplete": "new-password", "minlength": 10},
    )
    confirm = PasswordField(
        _l("パスワード(確認)"),
        validators=[InputRequired(REQUIRED), EqualTo("password", message=_l("パスワードが一致しません。"))],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


class SignupForm(BaseForm):
    email = _email_field()
    display_name = _display_name_field()
    password, password_confirm = _new_password_fields()
    language = _language_field()


class LoginForm(BaseForm):
    email = _email_field()
    password = PasswordField(
        _l("パスワード"), validators=[InputRequired(REQUIRED)], render_kw={"autocomplete": "current-password"}
    )


class ForgotPasswordForm(BaseForm):
    email = _email_field()


class ResetPasswordForm(BaseForm):
    password, password_confirm = _new_password_fields()


class ProfileForm(BaseForm):
    display_name = _display_name_field()
    language = _language_field()


class ChangePasswordForm(BaseForm):
    current_password = PasswordField(
        _l("現在のパスワード"), validators=[InputRequired(REQUIRED)], render_kw={"autocomplete": "current-password"}
    )
    password, password_confirm = _new_password_fields()


class DeleteAccountForm(BaseForm):
    confirm = BooleanField(
        _l("アカウントを削除することを確認しました"),
        validators=[DataRequired(_l("確認のチェックを入れてください。"))],
    )


TOKEN_LIFETIMES = {"30": 30, "90": 90, "365": 365, "": None}


class ApiTokenForm(BaseForm):
    name = StringField(
        _l("トークンの名前(用途)"),
        validators=[DataRequired(REQUIRED), Length(max=80, message=_l("80文字以内で入力してください。"))],
    )
    scope = SelectField(
        _l("できること"),
        choices=[SelectChoice(TOKEN_SCOPE_FULL, _l("すべての操作(読み取りと変更)")),
                 SelectChoice(TOKEN_SCOPE_READ, _l("読み取りのみ"))],
        default=TOKEN_SCOPE_FULL,
    )
    lifetime = SelectField(
        _l("有効期限"),
        choices=[SelectChoice("30", _l("30日後まで")), SelectChoice("90", _l("90日後まで")),
                 SelectChoice("365", _l("1年後まで")), SelectChoice("", _l("期限なし(無効にするまで)"))],
        default="90",
    )

    @property
    def expires_in_days(self) -> int | None:
        return TOKEN_LIFETIMES.get(self.lifetime.data or "")
