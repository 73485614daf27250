"""URL converters: `<int:...>` bounded to the database's integer ids, so /events/99999999999999999999 is a 404."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

ID_MAX = 2**31 - 1  # PostgreSQL INTEGER; SQLite raised OverflowError (a 500) beyond 64 bits


class BoundedIntConverter(IntegerConverter):
    """Werkzeug's int converter with a default maximum: a larger number does not match the route (404)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = ID_MAX,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def parse_id(value) -> int:
    """An id typed or chosen in a form; anything that is not one (text, a sign, a number beyond the id column)
    becomes 0, which names nothing: the service then says "not found" in the user's language."""
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) <= ID_MAX else 0
