"""PostgreSQL access: connection pools and versioned migrations."""
from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

DbConnection: TypeAlias = asyncpg.Connection | PoolConnectionProxy
"""A dedicated connection or one lent by a pool (`pool.acquire()`): what the query
functions take."""
