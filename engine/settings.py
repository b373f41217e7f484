"""All configuration in one typed object, read from the environment (prefix ``CAMPAIGNBOT_``) and ``.env``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

HOUSE_DIR = Path(__file__).resolve().parent / "inference" / "house"
HOUSE_COPY_MODEL = HOUSE_DIR / "copy-en"
HOUSE_VISUAL_MODEL = HOUSE_DIR / "visual" / "generator.pt"


class Settings(BaseSettings):
    """Model and runtime settings. Secrets added later (tokens) must be ``SecretStr`` so they never print."""

    model_config = SettingsConfigDict(env_prefix="CAMPAIGNBOT_", env_file=".env", extra="ignore")

    copy_model: str = Field(
        default=str(HOUSE_COPY_MODEL), description="hub id or local directory of a causal LM"
    )
    copy_model_zh: str | None = Field(
        default=None, description="model used for --lang zh briefs; unset means Chinese copy is not supported"
    )
    visual_model: str = Field(
        default=str(HOUSE_VISUAL_MODEL),
        description="GAN generator checkpoint path, or biggan:<hub id or directory> for a pretrained BigGAN-deep "
        "(e.g. biggan:biggan-deep-128 or biggan:/models/biggan; needs pytorch-pretrained-biggan)",
    )
    visual_candidates: int = Field(
        default=1,
        ge=1,
        le=64,
        description="hero images drawn per variant; above 1 the studio keeps the cleanest shape (one piece, "
        "clear of the border; the GAN's discriminator breaks ties). Off by default: with the shipped "
        "generator it lowered the judge's concept accuracy (bench/hero_selection.py)",
    )
    device: str = Field(default="auto", description="auto, cpu, cuda or cuda:N")
    dtype: str = Field(default="auto", description="auto, fp32, bf16 or fp16")
    data_dir: Path = Field(default=Path("data"), description="database, images and logs of this instance")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in data_dir")
    queue_url: str | None = Field(
        default=None,
        description="where the job queue lives: unset = the jobs table of the database (embedded); "
        "redis://host:6379/0 = Redis Streams (worker hosts then need only this and the artifact store)",
    )
    artifact_store: Literal["local", "database"] = Field(
        default="local",
        description="where creatives live: local = files under data_dir (the worker and the bot share it); "
        "database = in the database (CAMPAIGNBOT_DATABASE_URL, PostgreSQL at scale), for worker hosts and "
        "bot replicas with no shared disk (each keeps a local copy under its own data_dir)",
    )
    queue_prefix: str = Field(
        default="{campaignbot}:",
        min_length=1,
        description="prefix of every Redis key of the queue (several installs may share one Redis); the "
        "braces make it a Redis Cluster hash tag",
    )
    job_lease_seconds: float = Field(
        default=60.0, description="a job whose worker is silent this long is retried"
    )
    job_max_attempts: int = Field(default=3, description="deliveries of one job before it fails")
    outbox_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="an engine claims each post before sending it for this long (renewed when it calls the "
        "platform); the claim of an engine that died runs out and another engine sends the post, after "
        "looking on the platform for it; keep it well above the time one platform call may take",
    )
    job_ttl_seconds: float = Field(default=3600.0, description="queued jobs older than this are dropped")
    max_jobs_per_user: int = Field(default=2)
    queue_cap: int = Field(default=20, description="jobs waiting or running at once, all users")
    who_can_choose: str = Field(default="owner", description="owner or anyone: who may pick variants")
    reaction_debounce_seconds: float = Field(
        default=2.0,
        ge=0,
        description="a reaction or Refine button starts its refinement this long after the latest choice on "
        "the campaign (at most twice this after the first), so a storm of reactions or an owner toggling "
        "one makes one round; an unreact before then withdraws it; 0 starts at once",
    )
    moderation_words: str = Field(
        default="",
        description="comma-separated words and phrases refused in briefs and replies and never posted in "
        "generated copy (matched whole-word through case, look-alike letters, hidden characters, leetspeak)",
    )
    moderation_file: Path | None = Field(
        default=None, description="a file of more such words and phrases, one per line (# starts a comment)"
    )
    status_edit_interval: float = Field(default=3.0, description="seconds between edits of one status line")
    job_stall_seconds: float = Field(
        default=120.0,
        gt=0,
        description="a running job's lease is renewed only while its generation reported progress within this "
        "many seconds; a stalled generation loses its lease and another worker may take the job",
    )
    ack_lock_wait_seconds: float = Field(
        default=1.5,
        gt=0,
        le=2.5,
        description="the ack path waits at most this long for a database lock held by someone else, then "
        'answers "busy, try again" (the platforms wait 3 s for an answer); the delivery loop and the '
        "worker wait 10 s and retry with back-off",
    )
    job_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description="a job still running this long after its worker took it is abandoned (failed with a "
        "notice, not retried) and the worker process is recycled; a CPU round takes a few seconds to a few "
        "tens of seconds, so five minutes only stops a generation that is hung",
    )
    job_cancel_grace_seconds: float = Field(
        default=30.0,
        gt=0,
        description="a worker still busy this long on a job that was cancelled (or taken over) is recycled",
    )
    worker_recycle_grace_seconds: float = Field(
        default=5.0, gt=0, description="a recycled worker gets this long after SIGTERM before SIGKILL"
    )
    worker_watch_interval: float = Field(
        default=1.0, gt=0, description="seconds between the supervisor's checks of its worker's job"
    )
    worker_restart_limit: int = Field(
        default=5,
        ge=1,
        description="crashes of the worker within worker_restart_window_seconds after which the supervisor "
        "stops restarting it (jobs stay queued); recycles after a timeout or a device error do not count",
    )
    worker_restart_window_seconds: float = Field(
        default=300.0,
        gt=0,
        description="the window of worker_restart_limit; a worker that stayed up this long resets the count",
    )
    run_worker: bool = Field(
        default=True,
        description="campaignbot run starts and supervises an inference worker process beside the service; "
        "false for bot replicas whose workers run on their own hosts (campaignbot worker)",
    )
    ops_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="serve the service's /healthz, /readyz and /metrics on this port (unset: off)",
    )
    ops_host: str = Field(default="127.0.0.1", description="address of the service's ops server")
    worker_http_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="serve the worker's /healthz, /readyz and /metrics on this port (unset: off; 0: any free "
        "port, logged)",
    )
    worker_http_host: str = Field(
        default="127.0.0.1", description="address of the worker's health server (0.0.0.0 in a container)"
    )
    worker_batch_jobs: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="most ready jobs a worker takes at once and makes together (cross-job micro-batching: "
        "shared model batches, each job's cards as made alone); 1: one job at a time; unset: 1 on a CPU "
        "(batches finish a crowd sooner there but each campaign's last card later, bench/results/load.json), "
        "8 on a GPU",
    )
    worker_batch_window_ms: float = Field(
        default=30.0,
        ge=0,
        le=5000,
        description="after taking a job, how long the worker waits for more ready jobs to batch with it "
        "(a lone job is delayed by at most this)",
    )
    copy_batch_rows: int | None = Field(
        default=None,
        ge=1,
        description="most candidate rows in one copy-model batch when several jobs decode together "
        "(unset: 96 on a CPU, within 5% of 192 rows per token there with half the memory; all of a "
        "batch's jobs in one model batch on a GPU)",
    )
    worker_nice: int = Field(
        default=5,
        ge=0,
        le=19,
        description="the worker process's niceness (added at start): on a host it shares with the bot, the "
        "bot's answers (3 s deadline) and the database go before generation; 0 keeps the parent's",
    )
    worker_oom_batch: int = Field(
        default=4,
        ge=1,
        description="candidates decoded at once when a round is retried after running out of memory",
    )
    worker_log_max_bytes: int = Field(
        default=10_000_000, ge=1024, description="size at which <data_dir>/logs/worker.log is rotated"
    )
    worker_log_backups: int = Field(
        default=5, ge=0, description="rotated worker logs kept (worker.log.1 ... worker.log.N)"
    )
    retention_days: float = Field(
        default=30.0,
        ge=0,
        description="a campaign with no new round for this many days expires: its rounds, cards, votes, sent "
        "posts, finished jobs, images and exports are deleted (a small record stays, so a late reaction, "
        "reply or button hears that it expired); never while one of its jobs is active; 0 keeps campaigns",
    )
    image_retention_days: float = Field(
        default=30.0,
        ge=0,
        description="the images of a round older than this many days are deleted (its cards and history "
        "stay; an export holds the rounds whose images are left); 0 keeps images",
    )
    export_retention_days: float = Field(
        default=7.0, ge=0, description="export zips older than this many days are deleted; 0 keeps them"
    )
    prune_interval_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="the delivery loop prunes what the retention settings allow this often",
    )

    def copy_model_for(self, language: str) -> str | None:
        if language == "en":
            return self.copy_model
        if language == "zh":
            return self.copy_model_zh
        return None
