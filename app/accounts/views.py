"""Account pages: sign-up, confirmation, login/logout, password reset, profile, API tokens."""

from __future__ import annotations

from functools import wraps

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_url, login_user, logout_user

from app.accounts import services
from app.accounts.forms import (
    ApiTokenForm,
    ChangePasswordForm,
    DeleteAccountForm,
    ForgotPasswordForm,
    LoginForm,
    ProfileForm,
    ResetPasswordForm,
    SignupForm,
)
from app.accounts.limits import account_slowdown, recipient_limit, remember_device
from app.core.forms import ActionForm
from app.core.i18n import LANGUAGE_COOKIE, normalize_language
from app.core.security import is_safe_next, safe_next
from app.core.transactions import VIEW, request_transaction
from app.extensions import db, limiter

bp = Blueprint("accounts", __name__, url_prefix="/account")


def _login_failed(response) -> bool:
    return bool(g.get("login_failed"))


def _secret_url(view):
    """For pages whose URL carries a token: keep that URL out of Referer headers (and so out of access logs
    of the stylesheet request) and out of the browser cache."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        response = make_response(view(*args, **kwargs))
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    return wrapped


def _set_language_cookie(response, code: str):
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=60 * 60 * 24 * 365, samesite="Lax", httponly=True,
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
@recipient_limit()
def signup():
    if current_user.is_authenticated:  # a GET keeps its 302; after a POST, 303
        return redirect(url_for("portal.home"), 303 if request.method == "POST" else 302)
    form = SignupForm()
    # Where the person was going (an event's "log in to register"): the confirmation link leads back there.
    next_path = _next_path()
    if request.method == "GET":
        form.language.data = g.get("ui_language", "ja")
    if form.validate_on_submit():
        with request_transaction(errors={services.WeakPassword: form.password}) as tx:
            services.register_user(
                email=form.email.data,
                password=form.password.data,
                display_name=form.display_name.data,
                language=form.language.data,
                next_path=next_path,
            )
        if tx.ok:
            return redirect(url_for("accounts.signup_sent"), 303)
    return render_template("accounts/signup.html", form=form, next_url=next_path), \
        200 if request.method == "GET" else 422


def _next_path() -> str | None:
    """The request's `next` when it is a path on this site (is_safe_next), else None."""
    target = request.args.get("next")
    return target if is_safe_next(target) else None


@bp.get("/signup/sent")
def signup_sent():
    return render_template("accounts/signup_sent.html")


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@_secret_url
def confirm_email(token: str):
    # A button confirms (POST): mail scanners that open links must not act for the user.
    form = ActionForm()
    if form.validate_on_submit():
        with request_transaction(errors={services.InvalidLink: VIEW},
                                 success=_("メールアドレスを確認しました。ログインしてください。")) as tx:
            services.confirm_email(token)
        if tx.failed:
            return render_template("accounts/link_invalid.html", message=tx.error.message), 400
        return redirect(url_for("accounts.login", next=_next_path()), 303)
    return render_template("accounts/confirm.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_FAILURE_LIMIT"], methods=["POST"], deduct_when=_login_failed)
@account_slowdown  # one counter per account, shared with POST /api/v1/auth/token
def login():
    next_url = request.args.get("next")
    if current_user.is_authenticated:  # a GET keeps its 302; after a POST, 303
        return redirect(safe_next(next_url), 303 if request.method == "POST" else 302)
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(email=form.email.data, password=form.password.data)
        except services.EmailNotConfirmed as exc:
            form.email.errors.append(exc.message)
            status = 403
        except services.InvalidCredentials as exc:
            g.login_failed = True
            db.session.commit()  # keep the audit row of the failure
            form.password.errors.append(exc.message)
            status = 401
        else:
            session.clear()
            with request_transaction():
                services.start_session(user, ip=request.remote_addr, user_agent=request.user_agent.string)
            login_user(user)
            response = remember_device(redirect(safe_next(next_url), 303), user.id)
            return _set_language_cookie(response, user.preferred_language)
    elif request.method == "POST":
        status = 422
    return render_template("accounts/login.html", form=form, next_url=next_url), status


@bp.post("/logout")
def logout():
    form = ActionForm()
    if not form.validate_on_submit():
        return redirect(url_for("portal.home"), 303)
    if current_user.is_authenticated:
        with request_transaction():
            services.end_session(current_user.session_token)
    logout_user()
    session.clear()
    flash(_("ログアウトしました。"), "success")
    return redirect(url_for("portal.home"), 303)


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
@recipient_limit()
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        with request_transaction():
            services.request_password_reset(form.email.data)
        return render_template("accounts/forgot_sent.html", email=form.email.data)
    return render_template("accounts/forgot.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/reset/<token>", methods=["GET", "POST"])
@_secret_url
def reset_password(token: str):
    try:
        services.user_for_reset_token(token)
    except services.InvalidLink as exc:
        return render_template("accounts/link_invalid.html", message=exc.message), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        with request_transaction(errors=form.password) as tx:
            services.reset_password(token, form.password.data)
        if tx.ok:
            logout_user()
            session.clear()
            flash(_("パスワードを変更しました。APIトークンは無効になりました。新しいパスワードでログインしてください。"),
                  "success")
            return redirect(url_for("accounts.login"), 303)
    return render_template("accounts/reset.html", form=form), 200 if request.method == "GET" else 422


def _profile_page(status=200, **forms):
    forms.setdefault("profile_form", ProfileForm(obj=current_user, formdata=None,
                                                 language=current_user.preferred_language))
    forms.setdefault("password_form", ChangePasswordForm(formdata=None))
    forms.setdefault("delete_form", DeleteAccountForm(formdata=None))
    forms.setdefault("token_form", ApiTokenForm(formdata=None))
    tokens = sorted(current_user.api_tokens, key=lambda t: t.created_at, reverse=True)
    return render_template("accounts/profile.html", tokens=tokens, action_form=ActionForm(), **forms), status


@bp.get("/profile")
@login_required
def profile():
    return _profile_page()


@bp.post("/profile")
@login_required
def update_profile():
    form = ProfileForm()
    if not form.validate_on_submit():
        return _profile_page(422, profile_form=form)
    with request_transaction(success=_("プロフィールを保存しました。")):
        services.update_profile(current_user, display_name=form.display_name.data, language=form.language.data)
    return _set_language_cookie(redirect(url_for("accounts.profile"), 303), current_user.preferred_language)


def _password_check_failed(response) -> bool:
    return bool(g.get("password_check_failed"))


def _account_key() -> str:
    return f"password-check:{getattr(current_user, 'id', None)}"


@bp.post("/password")
@login_required
# A stolen session must not become a way to guess the account's password: count wrong current passwords.
@limiter.limit(
    lambda: current_app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"], key_func=_account_key, deduct_when=_password_check_failed
)
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        with request_transaction(errors={services.InvalidCredentials: form.current_password,
                                         services.WeakPassword: form.password}) as tx:
            services.change_password(
                current_user, current_password=form.current_password.data, new_password=form.password.data
            )
            # Every session was revoked; this browser gets a fresh one.
            user = current_user._get_current_object()
            services.start_session(user, ip=request.remote_addr, user_agent=request.user_agent.string)
        if isinstance(tx.error, services.InvalidCredentials):
            g.password_check_failed = True
        if tx.ok:
            session.clear()
            login_user(user)
            flash(_("パスワードを変更しました。ほかの端末はログアウトされ、APIトークンは無効になりました。"), "success")
            return redirect(url_for("accounts.profile"), 303)
    return _profile_page(422, password_form=form)


@bp.post("/delete")
@login_required
def request_deletion():
    form = DeleteAccountForm()
    if not form.validate_on_submit():
        return _profile_page(422, delete_form=form)
    with request_transaction(success=_("削除の申し出を受け付けました。担当者が確認してから削除します。")):
        services.request_deletion(current_user)
    return redirect(url_for("accounts.profile"), 303)


@bp.post("/delete/cancel")
@login_required
def cancel_deletion():
    if ActionForm().validate_on_submit():
        with request_transaction(success=_("削除の申し出を取り消しました。")):
            services.cancel_deletion_request(current_user)
    return redirect(url_for("accounts.profile"), 303)


@bp.post("/tokens")
@login_required
def create_token():
    form = ApiTokenForm()
    if not form.validate_on_submit():
        return _profile_page(422, token_form=form)
    with request_transaction():
        _token, secret = services.issue_api_token(current_user, name=form.name.data, scope=form.scope.data,
                                                  expires_in_days=form.expires_in_days)
    # Shown once, on this response only; never stored in clear.
    return _profile_page(201, new_token_secret=secret)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    if ActionForm().validate_on_submit():
        with request_transaction():
            revoked = services.revoke_api_token(current_user, token_id)
        if revoked:
            flash(_("トークンを無効にしました。"), "success")
    return redirect(url_for("accounts.profile"), 303)


def init_login(login_manager) -> None:
    """Wire Flask-Login to server-side sessions."""
    login_manager.login_view = "accounts.login"
    login_manager.session_protection = None  # sessions are server-side rows; see UserSession
    login_manager.login_message = None

    @login_manager.user_loader
    def _load(token: str):
        return services.load_session_user(token)

    @login_manager.unauthorized_handler
    def _sign_in_first():
        """To the sign-in page, coming back here after it (as Flask-Login's own answer), but with 303 when a
        form was posted: after a POST every redirect is 303, so no client repeats the POST at the sign-in page."""
        target = login_url(login_manager.login_view, next_url=request.url)
        return redirect(target, 302 if request.method in ("GET", "HEAD") else 303)


__all__ = ["bp", "init_login", "normalize_language"]
