"""Console settings (`DSYNC_CONSOLE_*`), read once when the gateway starts."""
from __future__ import annotations

from pydantic import Field

from dsync.settings import _Frozen


class ConsoleSettings(_Frozen):
    console_session_ttl_s: float = Field(8 * 3600.0, gt=0)
    """How long an operator stays signed in to the console."""
    console_setup_link_ttl_s: float = Field(7 * 86_400.0, gt=0)
    """How long a new setup link can be opened (once)."""
    console_setup_session_ttl_s: float = Field(24 * 3600.0, gt=0)
    """How long an IT admin's setup page stays usable after the link was opened."""
