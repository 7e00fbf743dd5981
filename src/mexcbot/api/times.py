"""Instants as the API reads them: with a time zone, and representable in UTC.

Every stored time is UTC, and an offset can carry a date past year 1 or 9999 once converted
(``9999-12-31T23:59:59-14:00``): unchecked, that conversion failed in the store, a 500. Query
parameters go through `since_in_utc`, body fields are `UtcInstant`; both refuse with a 422 that
names the field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError

from mexcbot.api.errors import ApiProblem

OUT_OF_RANGE: Final = "is out of range: in UTC it must fall between 0001-01-01 and 9999-12-31"
NEEDS_ZONE: Final = "needs a time zone, like 2024-05-01T12:00:00Z"


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("datetime_out_of_range", OUT_OF_RANGE) from None


UtcInstant = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A body's instant: ISO 8601 with a zone, converted to UTC (a 422 when it cannot be)."""


def since_in_utc(since: datetime | None, field: str = "since") -> datetime | None:
    """A query parameter's instant in UTC; a 422 naming `field` without a zone or out of range."""
    if since is None:
        return None
    if since.tzinfo is None:
        raise ApiProblem(422, "validation_error", f"{field}: {NEEDS_ZONE}", field=field)
    try:
        return since.astimezone(UTC)
    except OverflowError:
        raise ApiProblem(422, "validation_error", f"{field}: {OUT_OF_RANGE}", field=field) from None
