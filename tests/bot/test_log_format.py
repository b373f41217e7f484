"""Structured log lines (CAMPAIGNBOT_LOG_FORMAT=json): campaign and job ids as fields, secrets still masked."""

from __future__ import annotations

import io
import json
import logging

from bot.log_format import JsonFormatter
from engine.redact import RedactingFilter


def _line(msg: str, *args: object, exc: bool = False) -> dict[str, object]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter(secrets=("s3cret-token-value",)))
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("test.log_format")
    log.propagate = False
    log.addHandler(handler)
    try:
        if exc:
            try:
                raise RuntimeError("boom s3cret-token-value")
            except RuntimeError:
                log.exception(msg, *args)
        else:
            log.warning(msg, *args)
    finally:
        log.removeHandler(handler)
    return dict(json.loads(out.getvalue()))


def test_ids_become_fields_and_secrets_stay_masked() -> None:
    line = _line("job %s: done (token %s)", "C12-R3", "s3cret-token-value")
    assert line["job"] == "C12-R3" and line["campaign"] == "C12" and line["level"] == "warning"
    assert "s3cret-token-value" not in json.dumps(line) and line["logger"] == "test.log_format"
    assert _line("campaign C7: round 2 queued by alice")["campaign"] == "C7"
    assert "campaign" not in _line("worker ready on cpu")
    failed = _line("job %s failed", "C1-R1", exc=True)
    assert "RuntimeError" in str(failed["exception"]) and "s3cret-token-value" not in json.dumps(failed)
