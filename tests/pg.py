"""The PostgreSQL server the tests use (127.0.0.1:5432, trust, database ``test``).

``CAMPAIGNBOT_TEST_PG_URL`` points the suite at another database, so that two checkouts can run their
tests at once without dropping each other's schema."""

from __future__ import annotations

import os

PG_URL = os.environ.get("CAMPAIGNBOT_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
