"""Domain errors and the HTTP error pages (HTML in the user's language, JSON under /api/)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError

from app.core.i18n import plain


class DomainError(Exception):
    """A rule was broken; views turn it into a form error or an HTTP status. The message is user text."""

    status_code = 400
    code = "invalid"

    def __init__(self, message=None):
        super().__init__(message)
        self.message = message


class NotAllowed(DomainError):
    status_code = 403
    code = "forbidden"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


ERROR_TITLES = {
    400: _l("リクエストが正しくありません"),
    401: _l("ログインが必要です"),
    403: _l("このページを見る権限がありません"),
    404: _l("ページが見つかりません"),
    405: _l("この操作はできません"),
    409: _l("ほかの操作と重なりました"),
    413: _l("送信されたデータが大きすぎます"),
    422: _l("入力内容に誤りがあります"),
    429: _l("操作が多すぎます。しばらく待ってからもう一度お試しください"),
    500: _l("システムでエラーが起きました"),
    503: _l("ただいま混み合っているか、停止しています"),
}
ERROR_HINTS = {
    400: _l("入力内容を確かめて、もう一度お試しください。"),
    401: _l("ログインしてから、もう一度お試しください。"),
    403: _l("必要な権限がある別のアカウントでログインしてください。"),
    404: _l("アドレスが正しいか確かめてください。ページが移動した可能性があります。"),
    405: _l("前のページに戻って、もう一度お試しください。"),
    409: _l("最新の状態を読み込み直して、もう一度お試しください。"),
    413: _l("送ったファイルが大きすぎました。ブラウザの「戻る」で前のページに戻り、"
            "小さいファイル(画像は5MBまで)を選んで、もう一度送ってください。"),
    422: _l("入力内容を確かめて、もう一度お試しください。"),
    429: _l("安全のため、しばらくの間この操作を止めています。"),
    500: _l("ご迷惑をおかけしています。時間をおいてもう一度お試しください。"),
    503: _l("データベースにつながりません。少し待ってから、もう一度お試しください。"),
}
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "unprocessable_entity",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}

# Errors that mean the database cannot be reached now (down, restarting, too many connections, locked for too
# long), not a bug: the request may succeed if repeated later. IntegrityError, DataError, ProgrammingError stay 500.
DATABASE_UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError,
                        sa.exc.TimeoutError)


def database_unavailable(error: BaseException) -> bool:
    """True when ERROR says the database is out of reach rather than that the code is wrong."""
    if isinstance(error, DATABASE_UNAVAILABLE):
        return True
    return isinstance(error, sa.exc.DBAPIError) and bool(error.connection_invalidated)


def wants_json() -> bool:
    """API paths answer JSON errors."""
    return request.path.startswith("/api/")


def json_error(status: int, message: str, code: str | None = None, **extra):
    """The API's error shape: {"error": {"code", "message"}}."""
    # JSON carries plain text: furigana markup of やさしい日本語 messages is for HTML only.
    body = {"error": {"code": code or ERROR_CODES.get(status, "error"), "message": plain(str(message)), **extra}}
    return jsonify(body), status


def render_error(status: int, message=None, code: str | None = None, hint=None):
    """An error page in the user's language, never with a stack trace (JSON under /api/, with CODE).

    HINT replaces the status's usual hint (what to do next)."""
    if wants_json():
        return json_error(status, plain(str(message or hint or ERROR_TITLES.get(status, ERROR_TITLES[500]))), code)
    title = ERROR_TITLES.get(status, ERROR_TITLES[500])
    hint = hint or ERROR_HINTS.get(status, ERROR_HINTS[500])
    return render_template("errors/error.html", status=status, title=title, hint=hint, message=message), status


def _visitor_limit() -> bool:
    from app.core.uploads import anonymous_limit_applied  # late: uploads is set up after the error pages

    return anonymous_limit_applied()


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        message = _l("フォームの有効期限が切れました。ページを読み込み直して、もう一度送信してください。")
        return render_error(400, message)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        status = error.code or 500
        if status == 401 and not wants_json():
            from app.extensions import login_manager  # late: extensions builds the API object on this module

            return login_manager.unauthorized()
        if status == 413 and _visitor_limit():
            size = f"{max(1, (request.max_content_length or 0) // 1024)}KB"
            hint = _("ログインしていないときに送れるのは%(size)sまでです。ブラウザの「戻る」で前のページに戻り、"
                     "入力を短くして、もう一度送ってください。", size=size)
            return render_error(413, hint=hint)
        response = render_error(status)
        if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            resp, code = response
            if not hasattr(resp, "headers"):
                from flask import make_response

                resp = make_response(resp)
            resp.headers["Allow"] = ", ".join(error.valid_methods)
            return resp, code
        return response

    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        # A subclass that changes only the status keeps that status's code, not the generic "invalid".
        generic = error.code == DomainError.code and error.status_code != DomainError.status_code
        return render_error(error.status_code, error.message, None if generic else error.code)

    def _outage(error: Exception):
        """503 with Retry-After. The page may not reach the database (the header's menus, the signed-in user):
        when it cannot be rendered, a bare page in the same words answers instead."""
        app.logger.error("database unavailable: %s", error)
        _rollback_quietly()
        try:
            response = make_response(render_error(503))
        except Exception:  # noqa: BLE001 - the page itself needed the database
            title, hint = ERROR_TITLES[503], ERROR_HINTS[503]
            if wants_json():
                response = make_response(json_error(503, plain(str(title))))
            else:
                response = make_response(
                    f"<!doctype html><meta charset=utf-8><title>{escape(plain(str(title)))}</title>"
                    f"<h1>{escape(plain(str(title)))}</h1><p>{escape(plain(str(hint)))}</p>", 503)
        response.headers["Retry-After"] = str(app.config["DATABASE_RETRY_AFTER_S"])
        response.headers["Cache-Control"] = "no-store"
        return response

    def _rollback_quietly() -> None:
        try:
            from app.extensions import db  # late: extensions builds the API object on this module

            db.session.rollback()
        except Exception:  # noqa: BLE001 - the database may be the thing that failed; still answer with a page
            app.logger.exception("rollback after an error failed")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return _http(error)
        if database_unavailable(error):
            return _outage(error)
        app.logger.exception("unhandled error", exc_info=error)
        _rollback_quietly()
        return render_error(InternalServerError.code)
