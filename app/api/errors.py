"""The API's error shape for flask-smorest too: {"error": {"code", "message", "fields"?}} in the user's language.

app.core.errors answers every HTTP error under /api/ with JSON (404 and 405 on unknown paths included). This
module adds what only the API needs: field errors for 422 (from webargs/marshmallow, translated), the
`WWW-Authenticate: Bearer` challenge on 401, `Cache-Control: no-store`, and an Api subclass whose documented
error schema is this shape and whose own error handler cannot shadow the app's.
"""

from __future__ import annotations

import re

import marshmallow as ma
from flask import Flask, g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, UnprocessableEntity

from app.core.errors import ERROR_TITLES, json_error, render_error, wants_json
from app.core.i18n import plain


class AlternativeSchema(ma.Schema):
    """A room where the units asked for are free (409 `slot_taken`)."""

    room_id = ma.fields.Integer()
    facility_id = ma.fields.Integer()
    room = ma.fields.String()
    units = ma.fields.List(ma.fields.String())


class ErrorBodySchema(ma.Schema):
    """The inside of an error answer."""

    code = ma.fields.String(
        required=True, metadata={"description": "Stable machine-readable code", "example": "not_found"}
    )
    message = ma.fields.String(required=True, metadata={"description": "Message in the request's language"})
    fields = ma.fields.Dict(
        keys=ma.fields.String(),
        metadata={"description": "422 `validation_failed` only: messages per input field",
                  "example": {"email": ["必須項目です。"]}},
    )
    field = ma.fields.String(metadata={
        "description": "A business rule's answer about one input field (a 422 `invalid` of the events and groups, "
                       "the 403 of POST /events): that field's name, dotted when nested",
        "example": "organization_id"})
    alternatives = ma.fields.List(ma.fields.Nested(AlternativeSchema), metadata={
        "description": "409 `slot_taken` of POST /bookings only: the same units free in other rooms"})


class ErrorSchema(ma.Schema):
    """Every error answer of the API."""

    error = ma.fields.Nested(ErrorBodySchema, required=True)


class TsudoiApi(Api):
    """flask-smorest's Api documenting our error shape; HTTP errors are answered by app.core.errors."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        # flask-smorest would register an app-wide HTTPException handler answering its own JSON shape, on
        # HTML pages too. app.core.errors owns that handler (JSON under /api/, HTML elsewhere).
        return None

    def handle_http_exception(self, error: HTTPException):
        """Same answer as the app's handler (kept for code that calls flask-smorest's handler directly)."""
        if error.code == 422:
            return validation_error(error)
        return render_error(error.code or 500)


# marshmallow's built-in messages, in our words (translated per request like every other message).
_FIELD_MESSAGES = {
    "Missing data for required field.": _l("必須項目です。"),
    "Field may not be null.": _l("空にはできません。"),
    "Unknown field.": _l("この項目は受け付けていません。"),
    "Invalid input type.": _l("データの形式が正しくありません。JSONオブジェクトを送ってください。"),
    "Invalid value.": _l("値が正しくありません。"),
    "Not a valid string.": _l("文字列で指定してください。"),
    "Not a valid email address.": _l("メールアドレスの形式が正しくありません。"),
    "Not a valid integer.": _l("整数で指定してください。"),
    "Not a valid number.": _l("数値で指定してください。"),
    "Not a valid boolean.": _l("true か false で指定してください。"),
    "Not a valid datetime.": _l("日時の形式が正しくありません（ISO 8601）。"),
    "Not a valid date.": _l("日付の形式が正しくありません（YYYY-MM-DD）。"),
    "Not a valid list.": _l("リストで指定してください。"),
    "Not a valid mapping type.": _l("オブジェクトで指定してください。"),
    "Shorter than minimum length 1.": _l("空にはできません。"),
    "Not a valid time.": _l("時刻の形式が正しくありません（HH:MM）。"),
}
_LONGER = re.compile(r"^Longer than maximum length (\d+)\.$")
_SHORTER = re.compile(r"^Shorter than minimum length (\d+)\.$")
_LENGTH_BETWEEN = re.compile(r"^Length must be between (\d+) and (\d+)\.$")
_RANGE = re.compile(r"^Must be greater than or equal to (-?[\d.]+) and less than or equal to (-?[\d.]+)\.$")
_AT_LEAST = re.compile(r"^Must be greater than or equal to (-?[\d.]+)\.$")
_AT_MOST = re.compile(r"^Must be less than or equal to (-?[\d.]+)\.$")
_ONE_OF = re.compile(r"^Must be one of: (.*)\.$")


def translate_field_message(message: str) -> str:
    """MESSAGE in the request's language when it is one of marshmallow's defaults; otherwise as given.

    Plain text: JSON has no place for the furigana markup of やさしい日本語 messages.
    """
    text = str(message)
    if text in _FIELD_MESSAGES:
        return plain(str(_FIELD_MESSAGES[text]))
    if match := _LONGER.match(text):
        return plain(_("%(n)s文字以下にしてください。", n=match.group(1)))
    if match := _SHORTER.match(text):
        return plain(_("%(n)s文字以上にしてください。", n=match.group(1)))
    if match := _LENGTH_BETWEEN.match(text):
        return plain(_("%(min)s文字から%(max)s文字までにしてください。", min=match.group(1), max=match.group(2)))
    if match := _RANGE.match(text):
        return plain(_("%(min)sから%(max)sまでの数にしてください。", min=match.group(1), max=match.group(2)))
    if match := _AT_LEAST.match(text):
        return plain(_("%(min)s以上の数にしてください。", min=match.group(1)))
    if match := _AT_MOST.match(text):
        return plain(_("%(max)s以下の数にしてください。", max=match.group(1)))
    if match := _ONE_OF.match(text):
        return plain(_("次のどれかにしてください: %(choices)s", choices=match.group(1)))
    return plain(text)


def _translate(messages):
    if isinstance(messages, dict):
        return {str(key): _translate(value) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [_translate(value) for value in messages]
    return translate_field_message(messages)


def field_errors(error: HTTPException) -> dict:
    """webargs' messages ({location: {field: [...]}}) merged into {field: [...]}, translated."""
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors") or {}
    fields: dict = {}
    if isinstance(messages, dict):
        for location_messages in messages.values():
            if isinstance(location_messages, dict):
                fields.update(_translate(location_messages))
            else:
                fields.setdefault("_schema", []).extend(_translate(list(location_messages)))
    return fields


def validation_error(error: HTTPException):
    """422 with per-field messages under error.fields."""
    response, status = json_error(
        422, plain(str(ERROR_TITLES[422])), code="validation_failed", fields=field_errors(error)
    )
    for name, value in ((getattr(error, "data", None) or {}).get("headers") or {}).items():
        response.headers[name] = value
    return response, status


def init_app(app: Flask) -> None:
    """Register the API's 422 handler and its response headers."""

    @app.errorhandler(UnprocessableEntity)
    def _unprocessable(error: UnprocessableEntity):
        # Registered for the status code, so it is chosen before app.core.errors' generic handler.
        if wants_json():
            return validation_error(error)
        return render_error(422)

    @app.after_request
    def _api_headers(response):
        if not request.path.startswith("/api/v1/") or request.path.startswith("/api/v1/docs"):
            return response
        if response.status_code == 401:
            challenge = 'Bearer realm="tsudoi"'
            if g.get("api_auth_error") == "invalid_token":
                challenge += ', error="invalid_token"'
            response.headers.setdefault("WWW-Authenticate", challenge)
        # Answers depend on who asks: no shared cache may keep them.
        response.headers.setdefault("Cache-Control", "no-store")
        response.vary.add("Authorization")
        return response
