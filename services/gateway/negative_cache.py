"""A bounded, short-lived memory of token hashes that matched no valid token, so a client
hammering with a wrong or revoked token costs no database query per request.

Pure bookkeeping; the caller passes the clock. A token created after its hash was cached
as unknown would be refused until the entry expires: tokens are 256 random bits shown
only at creation, so nobody can present one before it exists, and creation drops the hash
anyway (`forget`).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class NegativeCache:
    max_size: int
    ttl_s: float
    _expiry: dict[bytes, float] = field(default_factory=dict)

    def known_bad(self, digest: bytes, now: float) -> bool:
        """Whether `digest` was seen unknown less than `ttl_s` ago."""
        expires = self._expiry.get(digest)
        if expires is None:
            return False
        if expires <= now:
            del self._expiry[digest]
            return False
        return True

    def remember(self, digest: bytes, now: float) -> None:
        if self.max_size <= 0 or self.ttl_s <= 0:
            return
        self._expiry.pop(digest, None)
        while len(self._expiry) >= self.max_size:  # oldest first (insertion order)
            del self._expiry[next(iter(self._expiry))]
        self._expiry[digest] = now + self.ttl_s

    def forget(self, digest: bytes) -> None:
        self._expiry.pop(digest, None)

    def __len__(self) -> int:
        return len(self._expiry)
