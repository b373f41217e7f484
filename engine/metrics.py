"""Prometheus metrics of the service and the worker, in one place (``prometheus_client``'s default registry).

The worker serves them on its health port (``CAMPAIGNBOT_WORKER_HTTP_PORT``), the service on its ops port
(``CAMPAIGNBOT_OPS_PORT``), both at ``/metrics``. Names follow Prometheus conventions: ``_total`` for
counters, ``_seconds`` for durations. Gauges of the service that live in the database or the queue (depth,
owed posts, dead letters, live workers) are read when scraped (``bot.ops_http``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)

JOBS_FINISHED = Counter(
    "campaignbot_worker_jobs_total",
    "Jobs a worker finished, by outcome (done, failed, user_error, cancelled, released, lost).",
    ["outcome"],
)
JOB_RUN_SECONDS = Histogram(
    "campaignbot_worker_job_run_seconds", "Seconds a worker spent on one job.", buckets=_DURATION_BUCKETS
)
JOB_WAIT_SECONDS = Histogram(
    "campaignbot_worker_job_wait_seconds",
    "Seconds from enqueue to a worker taking the job.",
    buckets=_DURATION_BUCKETS,
)
VARIANTS_MADE = Counter(
    "campaignbot_worker_variants_total",
    "Finished creatives (variants) made; rate() gives variants per second.",
)
WORKER_BUSY = Gauge("campaignbot_worker_busy", "1 while this worker runs a job.")
WORKER_READY = Gauge(
    "campaignbot_worker_ready", "1 once the models are loaded and warmed up, 0 when draining."
)
QUEUE_ERRORS = Counter(
    "campaignbot_worker_queue_errors_total",
    "Queue calls that failed and were retried (database or Redis away).",
)

# -- the service (bot process) ---------------------------------------------------------------------------
EVENTS = Counter(
    "campaignbot_events_total",
    "Chat events the engine handled, by kind (command, reply, reaction, button) and outcome (ok, busy, "
    "duplicate).",
    ["kind", "outcome"],
)
DELIVERY_ERRORS = Counter(
    "campaignbot_delivery_errors_total",
    "Posts that failed, by kind: transient (retried), permanent (dead letter), bug (an adapter error).",
    ["kind"],
)
QUEUE_DEPTH = Gauge("campaignbot_queue_depth", "Jobs queued or running.")
WORKERS_LIVE = Gauge("campaignbot_workers", "Workers that sent a heartbeat lately, by state.", ["state"])
OUTBOX_OWED = Gauge("campaignbot_outbox_owed", "Posts stored and not sent yet.")
DEAD_LETTERS = Gauge("campaignbot_dead_letters", "Posts given up (permanent errors, adapter bugs).")
