"""API tokens as the domain sees them: roles, the stored token (a hash, never the token) and
the one rule for a token's name, shared by the API and the CLI.

Roles are cumulative: ``read`` may call every GET route, ``trade`` also places and cancels orders,
``admin`` also manages tokens and configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

#: A token name: what an operator types to revoke it and what the audit log shows. ASCII letters,
#: digits and ``_ . @ -`` only, so it is safe in a URL path, a log line and a terminal.
TOKEN_NAME_PATTERN: Final = r"^[A-Za-z0-9_.@-]{1,100}$"
_TOKEN_NAME = re.compile(TOKEN_NAME_PATTERN)


class TokenRole(StrEnum):
    """read: look only; trade: place and cancel orders; admin: also manage tokens and rules."""

    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"


_RANK: Final = {TokenRole.READ: 0, TokenRole.TRADE: 1, TokenRole.ADMIN: 2}


def role_allows(held: TokenRole, needed: TokenRole) -> bool:
    return _RANK[held] >= _RANK[needed]


class InvalidTokenName(ValueError):
    """A token name breaks `TOKEN_NAME_PATTERN`; nothing was created."""

    field = "name"


def validate_token_name(name: str) -> str:
    if not _TOKEN_NAME.fullmatch(name):
        raise InvalidTokenName(
            "name must be 1 to 100 ASCII letters, digits or the characters _ . @ - "
            f"(pattern {TOKEN_NAME_PATTERN}); got {name!r}"
        )
    return name


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    name: str
    role: TokenRole
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
