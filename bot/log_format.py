"""Structured log lines (``CAMPAIGNBOT_LOG_FORMAT=json``): one JSON object per line, with the campaign and job
ids the line is about as their own fields, for a log pipeline (Loki, Elasticsearch, CloudWatch) to index.

Every log line of the engine and the worker names its campaign (``C12``) or job (``C12-R3``) in its text;
the formatter lifts the first of each into ``campaign`` and ``job``. The text is the one the redaction
filter already masked (filters run before formatters), so secrets stay out here too."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

_JOB = re.compile(r"\b(C\d+-R\d+)\b")
_CAMPAIGN = re.compile(r"\bC(\d+)\b")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        job = _JOB.search(message)
        if job:
            line["job"] = job.group(1)
            line["campaign"] = job.group(1).split("-")[0]
        else:
            camp = _CAMPAIGN.search(message)
            if camp:
                line["campaign"] = f"C{camp.group(1)}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def use_json(logger: logging.Logger | None = None) -> None:
    for handler in (logger or logging.getLogger()).handlers:
        handler.setFormatter(JsonFormatter())
