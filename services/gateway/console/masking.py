"""Masking secrets in a stored request before the console shows it (pure).

A SCIM body can carry a `password`; a stored command can carry tokens or webhook secrets.
Any key that names a secret keeps its key and loses its value, at any depth, including the
`value` of a PATCH operation whose `path` names a secret.
"""
from __future__ import annotations

import re
from typing import Any

MASK = "•••••• (hidden)"
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|authori[sz]ation|credential|api_?key"
                         r"|private_?key|cookie", re.I)


def secret_key(key: str) -> bool:
    """Whether a JSON key (or a PATCH path's last attribute) names a secret."""
    return bool(_SECRET_KEY.search(key.rsplit(":", 1)[-1].rsplit(".", 1)[-1]))


def mask_secrets(value: Any) -> Any:
    """A copy of `value` with every secret-named key's value replaced by MASK."""
    if isinstance(value, dict):
        path = value.get("path")
        out = {k: MASK if isinstance(k, str) and secret_key(k) and v is not None
               else mask_secrets(v) for k, v in value.items()}
        if isinstance(path, str) and secret_key(path) and "value" in value:
            out["value"] = MASK
        return out
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value
