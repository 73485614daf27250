"""No HTML form answers 5xx, or writes anything when it refuses, whatever its fields hold.

Method:

1. Every POST route of the URL map outside /api is an HTML form. Its form is read from the page a browser would
   show it on: the route's own GET page when it has one, else the page FORM_PAGES names (a row of the
   authorization matrix, whose path parameters and query are used, in the matrix's world, built once).
2. The request is made as the first persona the matrix allows on both the page and the route. The page's HTML is
   parsed (html.parser) for the <form> posting to the route: its fields and default values as a browser would
   submit them (checked boxes, selected options, the first named submit button), CSRF token included.
3. Each field in turn (the others at their defaults; the CSRF token is left alone: test_csrf covers it) is sent
   with each HOSTILE value, and selects, check boxes and radio buttons also with a value none of their options
   has. File inputs are not sent (test_upload_limits covers uploads).
4. Every answer is < 500; an HTML answer never holds the raw `<script>` value; and an answer that refuses
   (4xx, or 200 with the form's errors) leaves the number of rows of every table unchanged, except UNCOUNTED.
   A submission that succeeds may change state: the page is then read again for the next case.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from app.accounts.models import User
from app.events.models import EventSeries, EventStatus
from app.extensions import db
from app.organizations.models import Organization, VerificationStatus
from app.participation.models import ParticipationReport, ReportStatus
from tests.core import hostile
from tests.core.authz_world import PERSONAS
from tests.core.hostile import SCRIPT, Crash, ErrorNote, matrix_row, row_path

HOSTILE = ["", " ", "abc", "-1", "0", "1.5", "99999999999999999999", "9223372036854775808", "9999-12-31",
           "0001-01-01", "2026-02-30", "25:61", "２０２６", "\x00", SCRIPT, "'; DROP TABLE users; --", "x" * 5000,
           "²", "፩"]  # beyond the brief: digits that pass isdigit() but not int()
NOT_AN_OPTION = "not-an-option"
# Inputs whose browser widget sends another format get the calendar's ends in that format too.
BY_TYPE = {"month": ["9999-12", "0001-01"], "datetime-local": ["9999-12-31T23:59", "0001-01-01T00:00"],
           "time": ["24:00", "23:59:60"]}

# POST routes without a GET page of their own -> (the matrix's GET row that shows their form, its label).
FORM_PAGES = {
    "accounts.cancel_deletion": ("accounts.profile", None),
    "accounts.change_password": ("accounts.profile", None),
    "accounts.create_token": ("accounts.profile", None),
    "accounts.logout": ("portal.home", None),
    "accounts.request_deletion": ("accounts.profile", None),
    "accounts.revoke_token": ("accounts.profile", None),
    "accounts.update_profile": ("accounts.profile", None),
    "alerts.delete": ("alerts.mine", None),
    "bookings.delete_closure": ("bookings.closures", None),
    "bookings.desk_action": ("bookings.desk", None),
    "bookings.desk_exempt": ("bookings.desk", None),
    "core.switch_language": ("portal.home", None),
    "events.approve": ("events.review", None),
    "events.cancel_registration": ("events.mine", None),
    "events.message": ("events.registrations", None),
    "events.promote": ("events.registrations", None),
    "events.register": ("events.show", None),
    "events.remove_registration": ("events.registrations", None),
    "events.return_to_draft": ("events.review", None),
    "events.submit": ("events.show", "draft"),
    "events.set_ward_relation": ("events.ward_relations", None),
    "facilities.photo_delete": ("facilities.photos_manage", None),
    "indicators.enter_value": ("indicators.staff_detail", None),
    "indicators.freeze_year": ("indicators.confirm_freeze", None),
    "indicators.reopen_year": ("indicators.years", None),
    "indicators.save_rules": ("indicators.rules", None),
    "lotteries.confirm": ("lotteries.entry", None),
    "lotteries.decline": ("lotteries.entry", None),
    "lotteries.staff_draw": ("lotteries.staff_period", None),
    "lotteries.withdraw": ("lotteries.entry", None),
    "organizations.change_role": ("organizations.members", None),
    "organizations.hand_over": ("organizations.members", None),
    "organizations.invite": ("organizations.members", None),
    "organizations.npo_grant": ("organizations.members", None),
    "organizations.reject": ("organizations.review", None),
    "organizations.remove_member": ("organizations.members", None),
    "organizations.verify": ("organizations.review", None),
    "participation.approve": ("participation.staff_reports", None),
    "participation.checkin_code": ("participation.checkin", None),
    "participation.checkin_manual": ("participation.checkin", None),
    "participation.return_report": ("participation.staff_reports", None),
    "participation.remind": ("participation.staff_reports", None),
    "participation.submit_report": ("participation.report", None),
    "participation.uncheck": ("participation.checkin", None),
    "participation.walkins": ("participation.checkin", None),
}


def _token_page(kind: str):
    def page(world):
        from app.accounts import services as account_services
        from tests.factories import make_user

        user = make_user(email=f"hostile-{kind}@example.jp", confirmed=False) if kind == "confirm" else \
            make_user(email=f"hostile-{kind}@example.jp")
        with world.app.test_request_context():
            user = db.session.get(User, user.id)
            token = (account_services.make_confirmation_token if kind == "confirm"
                     else account_services.make_reset_token)(user)
        endpoint = "accounts.confirm_email" if kind == "confirm" else "accounts.reset_password"
        return "anon", world.app.url_map.bind("localhost").build(endpoint, {"token": token})
    return page


def _npo_members(world):
    """The NPO-grant form shows for an NPO only: an NPO of officer X."""
    from app.organizations.models import OrganizationKind
    from tests.organizations.factories import make_organization

    org = make_organization(name="港区テストNPO", kind=OrganizationKind.NPO, officer_id=world.users["off_x"].id)
    return "off_x", world.app.url_map.bind("localhost").build("organizations.members", {"org_id": org.id})


def _past_report(world):
    """Staff list ended occurrences of published events: occurrence X (with its submitted report) moves two months
    back, and it and its event are scheduled and published again (events.cancel and cancel_occurrence ran)."""
    from datetime import timedelta

    from app.events.models import EventOccurrence, EventStatus, OccurrenceStatus

    with world.app.app_context():
        occurrence = db.session.get(EventOccurrence, world.occ_x)
        occurrence.starts_at -= timedelta(days=60)
        occurrence.ends_at -= timedelta(days=60)
        occurrence.status = OccurrenceStatus.SCHEDULED
        occurrence.series.status = EventStatus.PUBLISHED
        db.session.commit()
    return "ward", row_path(world, matrix_row("participation.staff_reports", "GET"))


def _closed_windows(world):
    """Staff may draw a lottery once every entry window has closed (the page offers いま抽選する only then): a
    third period of facility F, a month after the world's, whose windows ended yesterday (the world's own periods
    keep their open windows for the entry cases)."""
    from datetime import timedelta

    import sqlalchemy as sa

    from app.core.time import utcnow
    from app.lottery.models import LotteryTier
    from tests.core.authz_world import add_lottery_period

    with world.app.app_context():
        period_id = add_lottery_period(world.facility_f, months_ahead=6)
        for tier in db.session.scalars(sa.select(LotteryTier).where(LotteryTier.period_id == period_id)):
            tier.opens_at, tier.closes_at = utcnow() - timedelta(days=3), utcnow() - timedelta(days=1)
        db.session.commit()
    return "staff_f", world.app.url_map.bind("localhost").build("lotteries.staff_period", {"period_id": period_id})


def _drawn_entry(world):
    """A winner confirms after the draw: group X enters facility G's lottery (F's is drawn by staff_draw's case),
    which is drawn now."""
    from app.lottery import services as lottery_services
    from app.lottery.models import LotteryEntry, LotteryPeriod, LotteryPreference

    with world.app.app_context():
        period = db.session.get(LotteryPeriod, world.lottery_g)
        entry = LotteryEntry(period_id=period.id, user_id=world.users["off_x"].id, organization_id=world.org_x,
                             group_key=f"org:{world.org_x}", tier=1)
        entry.preferences = [LotteryPreference(rank=1, room_id=world.room_g, day=period.start_date,
                                               slot_code="morning")]
        db.session.add(entry)
        db.session.flush()
        lottery_services.run_draw(period, available=lottery_services.lottery_slots(period))
        db.session.commit()
        entry_id = entry.id
    return "off_x", world.app.url_map.bind("localhost").build("lotteries.entry", {"entry_id": entry_id})


# Routes whose form the matrix's world does not show as is -> (persona, page URL), set up when the case runs.
SETUP = {
    "accounts.confirm_email": _token_page("confirm"),
    "accounts.reset_password": _token_page("reset"),
    "organizations.npo_grant": _npo_members,
    "participation.return_report": _past_report,
    "lotteries.confirm": _drawn_entry,
    "lotteries.staff_draw": _closed_windows,
}


def _put_back(model, key: str, **values):
    """A RESTORE step: set VALUES on the world's row KEY of MODEL."""
    def restore(world) -> None:
        with world.app.app_context():
            row = db.session.get(model, getattr(world, key))
            for attribute, value in values.items():
                setattr(row, attribute, value)
            db.session.commit()
    return restore


# A success that removes the form from its page (the thing changed state): put the state back, read the page again.
RESTORE = {
    "events.return_to_draft": _put_back(EventSeries, "submitted_x", status=EventStatus.SUBMITTED),
    "events.submit": _put_back(EventSeries, "draft_x", status=EventStatus.DRAFT),
    "organizations.verify": _put_back(Organization, "org_pending", status=VerificationStatus.PENDING),
    "participation.return_report": _put_back(ParticipationReport, "report_x", status=ReportStatus.SUBMITTED),
    "accounts.request_deletion": _put_back(User, "res_a_id", deletion_requested_at=None),
}

# Forms that carry only the CSRF token (nothing to fuzz) and that the world does not show as built:
# endpoint -> (the template of the form, why it is not shown).
NOT_SHOWN = {
    "accounts.logout": ("_macros/nav.html", "shown to signed-in visitors only; signing out ends the persona's session"),
    "organizations.accept_invitation": ("organizations/invitation.html",
                                        "the invitation is for an address no persona has"),
    "bookings.desk_action": ("bookings/desk.html",
                             "the desk lists today's bookings; the world's bookings are 20 days ahead"),
    "events.promote": ("events/registrations.html", "shown for a waitlisted registration; the world has none"),
    "events.register": ("events/show.html",
                        "events.cancel (run before it) cancels the world's event, and resident A is registered"),
    "indicators.reopen_year": ("indicators/staff_years.html", "shown for a frozen fiscal year; the world has none"),
    "lotteries.decline": ("lotteries/entry.html", "shown for a winning entry; lotteries.confirm's case drew it"),
    "participation.uncheck": ("participation/checkin.html",
                              "shown for a checked-in registration; the world has none"),
    "participation.remind": ("participation/staff_reports.html",
                             "shown for an ended occurrence without a report; the world's are ahead"),
    "participation.approve": ("participation/staff_reports.html",
                              "the staff list shows ended occurrences; the world's are ahead until return_report's "
                              "case moves one back"),
}

# Tables whose row count a refused request may change, and why. None so far: a server-side session row is written
# only by a successful sign-in (user_sessions is counted), and rate limits live in the limiter's storage (memory or
# Redis), not in a table. Audit events and outbox mails are counted like everything else.
UNCOUNTED: dict[str, str] = {}

# Routes run last, in this order: a success there ends the persona's session or removes what later pages show.
LAST = ["accounts.revoke_token", "accounts.change_password", "accounts.request_deletion", "accounts.cancel_deletion",
        "accounts.logout"]


# --- forms as a browser reads them --------------------------------------------------------------------------------

@dataclass
class Field:
    name: str
    kind: str  # input type, "select", "textarea" or "submit"
    value: str = ""
    on: bool = True  # checked (check boxes, radio buttons), selected (options); submitted by default
    options: list[tuple[str, bool]] = field(default_factory=list)  # a select's (value, selected)
    multiple: bool = False


@dataclass
class Form:
    action: str
    enctype: str
    fields: list[Field]

    def defaults(self) -> MultiDict:
        """What a browser submits with nothing changed (the first named submit button pressed)."""
        data = MultiDict()
        pressed = False
        for f in self.fields:
            if f.kind in ("file", "image", "reset", "button"):
                continue
            if f.kind == "submit":
                if f.name and not pressed:
                    data.add(f.name, f.value)
                pressed = True
            elif f.kind == "select":
                chosen = [o for o, on in f.options if on] or ([] if f.multiple else [o for o, _ in f.options[:1]])
                for value in chosen:
                    data.add(f.name, value)
            elif f.kind in ("checkbox", "radio"):
                if f.on:
                    data.add(f.name, f.value)
            else:
                data.add(f.name, f.value)
        return data

    def targets(self) -> dict[str, list[str]]:
        """Field name -> hostile values to try in it (the CSRF token and file inputs are left alone)."""
        found: dict[str, list[str]] = {}
        for f in self.fields:
            if not f.name or f.name == "csrf_token" or f.kind in ("file", "image", "reset", "button"):
                continue
            values = found.setdefault(f.name, list(HOSTILE))
            values += [v for v in BY_TYPE.get(f.kind, []) if v not in values]
            if f.kind in ("select", "checkbox", "radio") and NOT_AN_OPTION not in values:
                values.append(NOT_AN_OPTION)
        return found


class FormParser(HTMLParser):
    """The <form>s of a page with their fields."""

    def __init__(self, base_url: str):
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._option: list | None = None  # [value or None, text, selected]
        self._textarea: Field | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            if (a.get("method") or "get").lower() == "post":
                self._form = Form(urljoin(self.base_url, a.get("action") or self.base_url),
                                  a.get("enctype") or "", [])
                self.forms.append(self._form)
            return
        if self._form is None:
            return
        name = a.get("name") or ""
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            default = "on" if kind in ("checkbox", "radio") else ""
            self._form.fields.append(Field(name, kind, a.get("value") if a.get("value") is not None else default,
                                           on="checked" in a if kind in ("checkbox", "radio") else True))
        elif tag == "button":
            kind = (a.get("type") or "submit").lower()
            self._form.fields.append(Field(name, kind, a.get("value") or ""))
        elif tag == "select":
            self._select = Field(name, "select", multiple="multiple" in a)
            self._form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            self._close_option()
            self._option = [a.get("value"), "", "selected" in a]
        elif tag == "textarea":
            self._textarea = Field(name, "textarea")
            self._form.fields.append(self._textarea)

    def handle_data(self, data):
        if self._option is not None:
            self._option[1] += data
        elif self._textarea is not None:
            self._textarea.value += data

    def _close_option(self):
        if self._option is not None and self._select is not None:
            value, text, selected = self._option
            self._select.options.append((value if value is not None else text.strip(), selected))
        self._option = None

    def handle_endtag(self, tag):
        if tag == "option":
            self._close_option()
        elif tag == "select":
            self._close_option()
            self._select = None
        elif tag == "textarea":
            if self._textarea is not None and self._textarea.value.startswith("\n"):
                self._textarea.value = self._textarea.value[1:]  # as browsers do
            self._textarea = None
        elif tag == "form":
            self._form = None


def parse_forms(html: str, base_url: str) -> list[Form]:
    parser = FormParser(base_url)
    parser.feed(html)
    parser.close()
    return parser.forms


# --- the world, the routes and the row counts ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(app):
    """The matrix's world, built once; rate limits are reset before each submission (they are not the subject)."""
    for w in hostile.shared_world(app):
        w.res_a_id = w.users["res_a"].id
        yield w


@pytest.fixture(autouse=True)
def _clean_state():
    """Overrides the suite's per-test emptying: the module shares one world and checks row counts instead."""
    yield


def _post_endpoints() -> list[str]:
    from app import create_app

    app = create_app("testing")  # building an app touches no database (as in test_csrf)
    found = sorted({rule.endpoint for rule in app.url_map.iter_rules()
                    if "POST" in rule.methods and not rule.rule.startswith("/api")})
    return sorted(found, key=lambda e: (LAST.index(e) if e in LAST else -1, e))


def _page_row(endpoint: str):
    if endpoint in FORM_PAGES:
        page, label = FORM_PAGES[endpoint]
        return matrix_row(page, "GET", label)
    return matrix_row(endpoint, "GET")


def _persona(post_row, page_row) -> str:
    allowed = [p for p in PERSONAS if post_row.expected[p] == "ok" and page_row.expected[p] == "ok"]
    assert allowed, f"no persona may use both {page_row.endpoint} and {post_row.endpoint}"
    return allowed[0]


class RowCounter:
    """The number of rows of every table, in one statement."""

    def __init__(self, app):

        with app.app_context():
            self.engine = db.engine
            tables = [t for t in db.metadata.sorted_tables if t.name not in UNCOUNTED]
        self.names = [t.name for t in tables]
        self.statement = sa.select(*(sa.select(sa.func.count()).select_from(t).scalar_subquery() for t in tables))

    def __call__(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return dict(zip(self.names, conn.execute(self.statement).one(), strict=True))


@pytest.fixture(scope="module")
def counter(world):
    return RowCounter(world.app)


@pytest.fixture(scope="module")
def note(world):
    handler = ErrorNote()
    world.app.logger.addHandler(handler)
    yield handler
    world.app.logger.removeHandler(handler)


STATS = {"routes": 0, "forms": 0, "fields": 0, "submissions": 0, "refused": 0, "wrote": 0, "started": None}


def _form_for(world, persona: str, page: str, endpoint: str, preferred: str) -> Form | None:
    """The form of PAGE that posts to ENDPOINT (the one posting to PREFERRED when there are several)."""
    response = world.clients[persona].get(page)
    if response.status_code != 200 or response.mimetype != "text/html":
        return None
    adapter = world.app.url_map.bind("localhost")
    matching = []
    for form in parse_forms(response.get_data(as_text=True), f"http://localhost{page}"):
        parts = urlsplit(form.action)
        try:
            found, _ = adapter.match(parts.path, method="POST")
        except HTTPException:
            continue
        if found == endpoint:
            matching.append(form)
    return next((f for f in matching if urlsplit(f.action).path == preferred), matching[0] if matching else None)


def _submit(world, note, persona: str, form: Form, data: MultiDict):
    from app.extensions import limiter

    limiter.reset()
    note.errors.clear()
    parts = urlsplit(form.action)
    url = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        response = world.clients[persona].post(url, data=data)
    except Exception as error:  # noqa: BLE001 - TESTING propagates the view's exception: that is the 500
        response = Crash(error)
    response.close()
    return response


def _refused(response, body: str) -> bool:
    if response.status_code >= 400:
        return True
    return response.status_code == 200 and ('aria-invalid="true"' in body or 'class="error-summary"' in body)


@pytest.mark.parametrize("endpoint", [e for e in _post_endpoints() if e not in NOT_SHOWN])
def test_hostile_form_values(world, counter, note, endpoint: str):
    """Each field of the route's form, with each hostile value alone: < 500, escaped, nothing written on refusal.
    (The NOT_SHOWN routes have no field to fuzz: test_forms_left_out_carry_only_the_csrf_token proves it.)"""
    STATS["started"] = STATS["started"] or time.monotonic()
    post_row = matrix_row(endpoint, "POST")
    if endpoint in SETUP:
        persona, page = SETUP[endpoint](world)
    else:
        page_row = _page_row(endpoint)
        persona, page = _persona(post_row, page_row), row_path(world, page_row)
    preferred = urlsplit(row_path(world, post_row)).path
    form = _form_for(world, persona, page, endpoint, preferred)
    assert form is not None, f"{persona} GET {page} shows no form posting to {endpoint}"
    STATS["routes"] += 1
    STATS["forms"] += 1
    targets = form.targets()
    STATS["fields"] += len(targets)
    problems = []
    before = counter()
    for name, values in targets.items():
        for value in values:
            if form is None:
                form = _form_for(world, persona, page, endpoint, preferred)
                if form is None and endpoint in RESTORE:
                    RESTORE[endpoint](world)
                    form = _form_for(world, persona, page, endpoint, preferred)
                if form is None:
                    problems.append(f"{persona} GET {page}: the form posting to {endpoint} is gone after a success")
                    break
                before = counter()
            data = form.defaults()
            data.setlist(name, [value])
            response = _submit(world, note, persona, form, data)
            STATS["submissions"] += 1
            where = f"{persona} POST {urlsplit(form.action).path} {name}={value[:40]!r}"
            if response.status_code >= 500:
                error = getattr(response, "error", None) or (note.errors[0] if note.errors else None)
                detail = f" {type(error).__name__}: {(str(error).splitlines() or [''])[0][:160]}" if error else ""
                problems.append(f"{where} -> {response.status_code}{detail}")
            body = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
            if value == SCRIPT and SCRIPT in body:
                problems.append(f"{where} -> the value is reflected unescaped")
            after = counter()
            changed = {t: (before[t], after[t]) for t in after if after[t] != before[t]}
            STATS["refused"] += _refused(response, body)
            STATS["wrote"] += bool(changed)
            if changed and (_refused(response, body) or response.status_code >= 500):
                problems.append(f"{where} -> {response.status_code} but rows changed: {changed}")
            if changed or 300 <= response.status_code < 400 or response.status_code >= 500:
                form = None  # it may have changed state: read the page again
            before = after
    assert not problems, "\n".join(problems)


def test_forms_left_out_carry_only_the_csrf_token():
    """The routes NOT_SHOWN leaves out have nothing to fuzz: their forms hold no field but the token."""
    import pathlib
    import re

    templates = pathlib.Path(__file__).resolve().parents[2] / "templates"
    for endpoint, (template, _why) in NOT_SHOWN.items():
        text = (templates / template).read_text(encoding="utf-8")
        forms = [m.group(0) for m in re.finditer(r"<form\b([^>]*)>.*?</form>", text, re.S)
                 if f"url_for('{endpoint}'" in m.group(1)]
        # A form without an action posts to its own page (the invitation page's form).
        forms = forms or [m.group(0) for m in re.finditer(r"<form\b([^>]*)>.*?</form>", text, re.S)
                          if 'method="post"' in m.group(1) and "action=" not in m.group(1)]
        assert forms, f"no form of {endpoint} in {template}"
        for form in forms:
            names = set(re.findall(r'name="([^"]+)"', form)) - {"csrf_token"}
            assert not names and "field(" not in form, f"{endpoint}'s form in {template} has fields: {names or form}"


def test_the_run_was_not_blind():
    """After every form's case ran: hostile values were refused somewhere and legitimate-looking ones wrote rows
    somewhere (so the row counter sees writes), and every route had a field. Prints the coverage (pytest -s)."""
    if STATS["routes"] == len([e for e in _post_endpoints() if e not in NOT_SHOWN]):
        assert STATS["refused"] > 0 and STATS["wrote"] > 0 and STATS["fields"] >= STATS["routes"], STATS
    if STATS["started"]:
        print(f"\nhostile forms: {STATS['routes']} routes, {STATS['fields']} fields, {STATS['submissions']} "
              f"submissions ({STATS['refused']} refused, {STATS['wrote']} wrote rows) in "
              f"{time.monotonic() - STATS['started']:.1f} s")
