"""The Redis the tests use (127.0.0.1:6379) and how a test leaves it: every key under its own prefix deleted."""

from __future__ import annotations

from typing import Any

REDIS_URL = "redis://127.0.0.1:6379/0"


async def drop_prefix(redis: Any, prefix: str) -> None:
    keys = [k async for k in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)
