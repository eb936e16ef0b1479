"""Roles of API clients (tokens) and console clerks.

``reader`` < ``operator`` < ``admin`` as before: a role allows everything below it. ``certifier``
(the county centre: certifies applications and produces cards) stands beside ``operator``: it
allows ``reader`` work and its own, but not the acceptance point's (``operator``) work. ``admin``
allows everything.
"""

from __future__ import annotations

from enum import Enum


class Role(str, Enum):
    READER = "reader"
    OPERATOR = "operator"
    CERTIFIER = "certifier"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, required: Role | str) -> bool:
        """True if a client holding this role may do what needs ``required``."""
        return Role(required) in _ALLOWS[self]

    def __lt__(self, other: object) -> bool:
        return self.rank < Role(other).rank if isinstance(other, str) else NotImplemented

    def __le__(self, other: object) -> bool:
        return self.rank <= Role(other).rank if isinstance(other, str) else NotImplemented

    def __gt__(self, other: object) -> bool:
        return self.rank > Role(other).rank if isinstance(other, str) else NotImplemented

    def __ge__(self, other: object) -> bool:
        return self.rank >= Role(other).rank if isinstance(other, str) else NotImplemented


#: Display and sort order only; what a role may do is :data:`_ALLOWS`.
_RANKS = {Role.READER: 0, Role.OPERATOR: 1, Role.CERTIFIER: 1, Role.ADMIN: 2}
_ALLOWS = {
    Role.READER: frozenset({Role.READER}),
    Role.OPERATOR: frozenset({Role.READER, Role.OPERATOR}),
    Role.CERTIFIER: frozenset({Role.READER, Role.CERTIFIER}),
    Role.ADMIN: frozenset(Role),
}
