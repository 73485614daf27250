"""The signed quote of the booking confirmation step (issue 16: what you confirm is what you book).

The summary page carries, in the form's `confirm` field, a token signed with the app's SECRET_KEY that states what
it showed: the user, room, day, slots, attendees, fee category, group, equipment and the fee. The final POST books
only when its fields are exactly those of the token and the fee computed then is the one the token states; anything
else (a field edited below the summary, a token altered, expired or missing) is quoted again and books nothing.
"""

from __future__ import annotations

from datetime import date

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from app.facilities.models import UserCategory

SALT = "bookings-quote"
MAX_AGE_S = 60 * 60  # a summary older than this is shown again (fees and free slots may have changed since)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def quote_terms(*, user_id: int, room_id: int, day: date, unit_keys: list[str], attendees: int,
                category: UserCategory, organization_id: int | None, equipment_ids: list[int]) -> dict:
    """What a quote is for, in a form that compares equal whatever order the boxes were ticked in."""
    return {"user": user_id, "room": room_id, "day": day.isoformat(), "units": sorted(str(k) for k in unit_keys),
            "attendees": attendees, "category": category.value, "organization": organization_id,
            "equipment": sorted(int(i) for i in equipment_ids)}


def sign_quote(terms: dict, *, net_yen: int) -> str:
    """The token for a summary of TERMS that showed NET_YEN to pay."""
    return _serializer().dumps({"terms": terms, "fee": net_yen})


def signed_fee(token: str | None, terms: dict) -> int | None:
    """The fee that TOKEN states for exactly TERMS; None when it is missing, altered, expired or for other terms."""
    if not token:
        return None
    try:
        data = _serializer().loads(token, max_age=MAX_AGE_S)
    except BadData:
        return None
    if not isinstance(data, dict) or data.get("terms") != terms:
        return None
    fee = data.get("fee")
    return fee if isinstance(fee, int) and not isinstance(fee, bool) else None
