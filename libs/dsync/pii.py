"""Masking personal data in texts that are stored or logged (ledger `detail`, logs)."""
from __future__ import annotations

import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_pii(text: str | None) -> str | None:
    """`ada.lovelace@example.com` -> `a***@example.com`; other text unchanged."""
    if text is None:
        return None
    return _EMAIL.sub(r"\1***@\2", text)
