"""Fields shared by the API's schemas, documented as they are sent."""

from __future__ import annotations

from marshmallow import fields

DECIMAL_PATTERN = r"^-?\d+(\.\d+)?$"


def decimal_string(**kwargs) -> fields.Decimal:
    """A Decimal sent as a string ("12.5"), exactly as stored: no float rounding on the way. apispec documents
    `fields.Decimal` as a number whatever `as_string` says, so the type is given here."""
    metadata = {"type": "string", "format": "decimal", "pattern": DECIMAL_PATTERN, **kwargs.pop("metadata", {})}
    return fields.Decimal(as_string=True, metadata=metadata, **kwargs)


# The 422 answers of a business rule, beside the schema's own (`validation_failed` with `fields`): each operation
# documents which it gives, with these words (and every JSON body holding a NUL character answers 422 `invalid`).
NUL_422 = "a string holding a NUL character: `invalid`"
BAD_BODY = "`bad_request`: the body is not JSON, or nests deeper than 32 levels"
