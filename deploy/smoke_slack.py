"""The deploy smoke's driver (run by deploy/smoke, on the host, with the project's venv): the wire fake of
Slack (tests/fakes/slack) on 127.0.0.1, the compose stack pointed at it, ONE campaign through it.

1. starts the fake Slack (Web API + HTTP-mode event delivery, v0-signed) on a free loopback port;
2. starts the compose file: PostgreSQL and Redis, `campaignbot migrate` (a one-off bot container; with
   SMOKE_MIGRATE=start none: the bot and both workers migrate the empty database as they start, together),
   then the bot (Slack HTTP mode, SLACK_API_URL = the fake, no embedded worker) and two workers, all with
   host networking;
3. waits for the bot's HTTP port, the bot's ops /readyz and both workers' /readyz; checks
   `campaignbot worker --health` in a worker container;
4. sends `/campaign smart watch for runners --variants N` as a person would, and waits until the thread
   holds the status line (ending ✅), the contact sheet and N variant cards, each with its PNG;
5. reads the workers' /metrics (who made the round) and the bot's (events, queue, workers, outbox, dead
   letters), checks the bot's log (no embedded worker, one migration), where each service's /data lives.

Teardown is deploy/smoke's trap (compose down -v), so it also runs when this fails. Exit 0 = pass."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.slack import FakeSlack  # noqa: E402

ALICE = "U0ALICE"
T0 = time.monotonic()
VARIANTS = int(os.environ.get("SMOKE_VARIANTS", "2"))
ROUND_TIMEOUT = float(os.environ.get("SMOKE_ROUND_TIMEOUT", "300"))
MIGRATE = os.environ.get("SMOKE_MIGRATE", "job")  # job: `campaignbot migrate` first; start: none
SERVICE_METRICS = (
    "campaignbot_events_total",
    "campaignbot_queue_depth",
    "campaignbot_workers",
    "campaignbot_outbox_owed",
    "campaignbot_dead_letters",
    "campaignbot_delivery_errors_total",
)


def log(msg: str) -> None:
    print(f"smoke: [{time.monotonic() - T0:7.1f} s] {msg}", flush=True)


def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = os.environ["SMOKE_COMPOSE"].split() + list(args)
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if check and p.returncode != 0:
        sys.stdout.write(p.stdout[-4000:] + p.stderr[-4000:])
        raise SystemExit(f"smoke: FAILED: {' '.join(args)} exited {p.returncode}")
    return p


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


async def until(pred: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def metric(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name) and not line.startswith("#")]


def container(service: str) -> str:
    return f"{os.environ['SMOKE_PROJECT_NAME']}_{service}_1"


def podman_out(*args: str) -> str:
    p = subprocess.run(["podman", *args], capture_output=True, text=True)
    return p.stdout + p.stderr


def worker_health() -> None:
    """`campaignbot worker --health` reaches the worker's own parser: device touched, models loaded, "ok"."""
    t = time.monotonic()
    p = subprocess.run(
        ["podman", "exec", container("worker-1"), "campaignbot", "worker", "--health"],
        capture_output=True,
        text=True,
    )
    out = p.stdout.strip() or p.stderr.strip() or "(no output)"
    assert p.returncode == 0, (
        f"campaignbot worker --health exited {p.returncode}: {p.stdout[-300:]}{p.stderr[-300:]}"
    )
    log(
        f"campaignbot worker --health in worker-1: exit 0, {out.splitlines()[-1][:100]!r} ({time.monotonic() - t:.1f} s)"
    )


def check_one_migration() -> None:
    """SMOKE_MIGRATE=start: three processes migrated one empty database at once; the schema is at head and
    each of them came up (the advisory lock let one migrate, the others found it done)."""
    pg = container("postgres")
    p = subprocess.run(
        [
            "podman",
            "exec",
            pg,
            "psql",
            "-h",
            "/var/run/postgresql",
            "-p",
            os.environ["PG_PORT"],
            "-U",
            "campaignbot",
            "-d",
            "campaignbot",
            "-tAc",
            "select version_num from alembic_version",
        ],
        capture_output=True,
        text=True,
    )
    versions = p.stdout.split()
    assert p.returncode == 0 and len(versions) == 1, (p.stdout, p.stderr)
    log(
        f"concurrent start: bot, worker-1 and worker-2 migrated the empty database at once; alembic_version {versions}"
    )


def bot_checks(ops_port: int) -> None:
    """The bot's ops /metrics; its log: no embedded worker (CAMPAIGNBOT_RUN_WORKER=false); each service's /data."""
    _, text = http_get(f"http://127.0.0.1:{ops_port}/metrics")
    lines = [line for name in SERVICE_METRICS for line in metric(text, name + "{") + metric(text, name + " ")]
    for line in lines:
        log(f"bot /metrics: {line}")
    assert "campaignbot_dead_letters 0.0" in lines, lines
    assert 'campaignbot_workers{state="ready"} 2.0' in lines, "two workers by their own names"
    botlog = podman_out("logs", container("bot"))
    for bad in ("inference worker", "worker process", "crashed"):
        assert bad not in botlog, f"the bot's log mentions {bad!r}: the embedded worker ran"
    log("bot log: no embedded worker (no 'inference worker' / 'worker process' / 'crashed' line)")
    mounts = []
    for s in ("bot", "worker-1", "worker-2"):
        m = podman_out(
            "inspect",
            "-f",
            '{{range .Mounts}}{{if eq .Destination "/data"}}{{.Name}}{{end}}{{end}}',
            container(s),
        )
        mounts.append(f"{s} {m.strip()}")
    log(f"/data volumes: {', '.join(mounts)}")
    files = podman_out("exec", container("bot"), "sh", "-c", "ls /data/images/C1/round-1 2>&1 | tr '\\n' ' '")
    log(f"bot's own /data/images/C1/round-1: {files.strip()}")


def start_prometheus() -> subprocess.Popen[bytes] | None:
    """SMOKE_PROMETHEUS=/path/to/prometheus: a Prometheus on deploy/prometheus/prometheus.yml (the bot's ops
    port and both workers' health ports, the alert rules), on 127.0.0.1:59090."""
    binary = os.environ.get("SMOKE_PROMETHEUS")
    if not binary:
        return None
    tsdb = ROOT / "deploy" / ".cache" / "smoke-prometheus"
    subprocess.run(["rm", "-rf", str(tsdb)], check=True)
    logf = open(ROOT / "deploy" / ".cache" / "smoke-prometheus.log", "wb")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [
            binary,
            "--config.file",
            str(ROOT / "deploy/prometheus/prometheus.yml"),
            "--storage.tsdb.path",
            str(tsdb),
            "--web.listen-address",
            "127.0.0.1:59090",
        ],
        stdout=logf,
        stderr=subprocess.STDOUT,
    )


async def prometheus_checks() -> None:
    """Every target of prometheus.yml scraped and up; the rules loaded; none firing."""
    api = "http://127.0.0.1:59090/api/v1/"

    def targets() -> list[dict[str, str]]:
        code, body = http_get(api + "targets")
        return json.loads(body)["data"]["activeTargets"] if code == 200 else []

    t = time.monotonic()
    await until(
        lambda: len(targets()) == 3 and all(x["health"] == "up" for x in targets()), 60, "3 targets up"
    )
    log(
        "prometheus: targets up: "
        + ", ".join(f"{x['labels']['job']} {x['scrapeUrl']}" for x in targets())
        + f" ({time.monotonic() - t:.1f} s)"
    )
    rules = json.loads(http_get(api + "rules")[1])["data"]["groups"]
    states = [f"{r['name']}={r['state']}" for g in rules for r in g["rules"]]
    log(f"prometheus: {len(states)} alert rules loaded: {', '.join(states)}")
    # pending is allowed (a rule true at one evaluation, e.g. the one worker scraped so far busy, waits out
    # its `for:`); firing is not
    firing = [st for st in states if st.endswith("=firing")]
    assert not firing, f"alerts firing on a healthy stack: {firing}"


def backup_and_restore(pg_port: int) -> None:
    """The runbook's backup and restore, for real: pg_dump -Fc of the live database, pg_restore into a new
    database, the same rows in both (run inside the postgres container: the client matches the server)."""
    t = time.monotonic()
    pg = os.environ["SMOKE_PROJECT_NAME"] + "_postgres_1"
    conn = ["-h", "/var/run/postgresql", "-p", str(pg_port), "-U", "campaignbot"]

    def sh(*cmd: str) -> str:
        p = subprocess.run(["podman", "exec", pg, *cmd], capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd[:2])} failed: {p.stderr.strip()[-500:]}")
        return p.stdout.strip()

    sh("pg_dump", *conn, "-Fc", "-f", "/tmp/campaignbot.dump", "campaignbot")
    size = int(sh("stat", "-c", "%s", "/tmp/campaignbot.dump"))
    sh("createdb", *conn, "campaignbot_restored")
    sh("pg_restore", *conn, "-d", "campaignbot_restored", "--no-owner", "/tmp/campaignbot.dump")
    query = "select (select count(*) from campaigns), (select count(*) from rounds), (select count(*) from outbox)"
    live = sh("psql", *conn, "-d", "campaignbot", "-tAc", query)
    restored = sh("psql", *conn, "-d", "campaignbot_restored", "-tAc", query)
    assert live == restored, (live, restored)
    log(
        f"backup: pg_dump -Fc {size // 1024} KiB, pg_restore into campaignbot_restored: campaigns|rounds|outbox "
        f"{restored} in both ({time.monotonic() - t:.1f} s)"
    )


async def drain(fake: FakeSlack, worker_ports: list[int]) -> None:
    """The runbook's draining, for real: a second campaign (8 variants); the worker that takes it is
    stopped (SIGTERM, `podman stop`) mid-round; it must give the job back and exit, and the other worker
    must make the round, every card once."""
    t = time.monotonic()
    d = await fake.slash(ALICE, "trail running shoes --variants 8 --tone bold --seed 3")
    assert d.ack and "Working on it" in d.ack.get("text", ""), d.ack
    await until(lambda: len(fake.roots()) == 2, 30, "the second campaign's root message")
    root = fake.roots()[1]

    def busy() -> list[int]:
        return [
            i
            for i, p in enumerate(worker_ports)
            if "campaignbot_worker_busy 1.0" in http_get(f"http://127.0.0.1:{p}/metrics")[1]
        ]

    await until(lambda: bool(busy()), 60, "a worker busy with the second campaign")
    i = busy()[0]
    name, other = f"worker-{i + 1}", worker_ports[1 - i]
    container = f"{os.environ['SMOKE_PROJECT_NAME']}_{name}_1"
    ts = time.monotonic()
    p = subprocess.run(["podman", "stop", "-t", "60", container], capture_output=True, text=True)
    stop_s = time.monotonic() - ts
    logs = subprocess.run(["podman", "logs", container], capture_output=True, text=True)
    state = subprocess.run(
        ["podman", "inspect", "-f", "{{.State.ExitCode}}", container], capture_output=True, text=True
    ).stdout.strip()
    assert p.returncode == 0, p.stderr
    given_back = [line for line in (logs.stdout + logs.stderr).splitlines() if "given back" in line]
    log(f"drain: SIGTERM to {name} mid-round; it stopped in {stop_s:.1f} s with exit code {state}")
    assert given_back, "the stopped worker did not give its job back"
    log(f"drain: {name} log: {given_back[-1].strip()[:110]!r}")
    await until(lambda: len(fake.cards(root)) >= 8, ROUND_TIMEOUT, "8 cards from the other worker")
    await asyncio.sleep(2)  # a duplicate would arrive now
    cards = fake.cards(root)
    heads = [c.text for c in cards]
    assert len(cards) == 8 and len(set(heads)) == 8, heads
    jobs = metric(http_get(f"http://127.0.0.1:{other}/metrics")[1], "campaignbot_worker_jobs_total")
    log(f"drain: the other worker (:{other}) made the round: {'; '.join(jobs)}")
    log(
        f"drain: 8 cards in the second thread, each once ({time.monotonic() - t:.1f} s from the slash command)"
    )


async def migrate_step() -> None:
    """`campaignbot migrate` in a one-off bot container (none with SMOKE_MIGRATE=start)."""
    t = time.monotonic()
    if MIGRATE == "start":
        log("no migrate step (SMOKE_MIGRATE=start): the bot and both workers migrate as they start")
    else:
        for attempt in range(20):  # noqa: B007 - the first start runs initdb, then restarts the server
            p = compose("run", "--rm", "bot", "migrate", check=False)
            if p.returncode == 0:
                break
            await asyncio.sleep(1)
        else:
            sys.stdout.write(p.stdout[-3000:] + p.stderr[-3000:])
            raise SystemExit("smoke: FAILED: campaignbot migrate")
        log(
            f"campaignbot migrate: {p.stdout.strip().splitlines()[-1]} ({time.monotonic() - t:.1f} s, attempt {attempt + 1})"
        )


async def main() -> int:
    pg_port, redis_port = int(os.environ["PG_PORT"]), int(os.environ["REDIS_PORT"])
    slack_port, ops_port = int(os.environ["SLACK_PORT"]), int(os.environ["BOT_OPS_PORT"])
    worker_ports = [int(os.environ["WORKER1_HTTP_PORT"]), int(os.environ["WORKER2_HTTP_PORT"])]
    for p in [pg_port, redis_port, slack_port, ops_port, *worker_ports]:
        if port_open(p):
            raise SystemExit(f"smoke: FAILED: port {p} is already in use on 127.0.0.1; choose another")

    prometheus = start_prometheus()
    fake = await FakeSlack(mode="http").start()
    fake.app_url = f"http://127.0.0.1:{slack_port}/slack/events"
    os.environ.update(
        SLACK_BOT_TOKEN=fake.BOT_TOKEN, SLACK_SIGNING_SECRET=fake.SIGNING_SECRET, SLACK_API_URL=fake.api_url
    )
    log(f"fake Slack on {fake.base} (Web API {fake.api_url}); the bot will listen on {fake.app_url}")
    try:
        t = time.monotonic()
        compose("up", "-d", "postgres", "redis")
        await until(lambda: port_open(pg_port) and port_open(redis_port), 60, "PostgreSQL and Redis ports")
        log(
            f"PostgreSQL on 127.0.0.1:{pg_port} and Redis on 127.0.0.1:{redis_port} up ({time.monotonic() - t:.1f} s)"
        )
        await migrate_step()
        t = time.monotonic()
        compose("up", "-d", "bot", "worker-1", "worker-2")
        await until(lambda: port_open(slack_port), 90, "the bot's Slack HTTP port")
        log(f"bot listening on 127.0.0.1:{slack_port} ({time.monotonic() - t:.1f} s)")
        await until(
            lambda: http_get(f"http://127.0.0.1:{ops_port}/readyz")[0] == 200, 60, "the bot's /readyz"
        )
        log(
            f"bot ops :{ops_port}: /healthz {http_get(f'http://127.0.0.1:{ops_port}/healthz')[0]}, "
            f"/readyz 200 ({time.monotonic() - t:.1f} s)"
        )
        await until(
            lambda: all(http_get(f"http://127.0.0.1:{p}/readyz")[0] == 200 for p in worker_ports),
            240,
            "both workers' /readyz",
        )
        log(
            f"workers ready on :{worker_ports[0]} and :{worker_ports[1]} (/readyz 200; {time.monotonic() - t:.1f} s)"
        )
        if MIGRATE == "start":
            check_one_migration()
        worker_health()

        t = time.monotonic()
        d = await fake.slash(ALICE, f"smart watch for runners --variants {VARIANTS} --tone playful --seed 7")
        assert d.ack and "Working on it" in d.ack.get("text", ""), d.ack
        log(f"/campaign acked in {d.latency * 1000:.0f} ms: {d.ack['text']!r}")
        await until(lambda: len(fake.roots()) == 1, 30, "the campaign's root message")
        root = fake.roots()[0]
        log(f"campaign posted: {root.text.splitlines()[0][:80]!r}")

        def status() -> str:
            lines = [m for m in fake.thread(root) if m.bot and m.text.startswith("⏳")]
            return lines[0].current if lines else ""

        await until(lambda: status().startswith("✅"), ROUND_TIMEOUT, "the status line's ✅ (the round made)")
        log(f"status line: {status()!r} ({time.monotonic() - t:.1f} s)")
        await until(lambda: len(fake.cards(root)) == VARIANTS, 30, f"{VARIANTS} variant cards after the ✅")
        round_s = time.monotonic() - t
        grids, cards = fake.grids(root), fake.cards(root)
        with_files = [m for m in fake.thread(root) if m.files]
        pngs = [fake.files[f] for m in with_files for f in m.files]
        assert len(grids) == 1, grids
        assert len(with_files) == VARIANTS + 1, [m.text for m in with_files]  # the sheet + one per card
        assert all(f.data and f.data.startswith(b"\x89PNG") for f in pngs), [f.filename for f in pngs]
        assert all(m.thread_ts == root.ts for m in fake.thread(root))
        assert fake.problems == [], fake.problems
        log(f"thread: status {status()!r}; contact sheet {grids[0].text.splitlines()[0]!r}")
        for c in cards:
            head = next((b["text"]["text"] for b in c.blocks if b["type"] == "section"), c.text)
            log(f"  card: {head.splitlines()[0][:90]!r}")
        log(
            f"{len(cards)} cards + contact sheet in the thread, {len(pngs)} PNGs "
            f"({sum(f.length for f in pngs) // 1024} KiB) in {round_s:.1f} s from the slash command"
        )
        for p in worker_ports:
            _, text = http_get(f"http://127.0.0.1:{p}/metrics")
            jobs = metric(text, "campaignbot_worker_jobs_total")
            log(f"worker :{p} /metrics: {'; '.join(jobs) or 'no jobs'}")
        calls: dict[str, int] = {}
        for _, m, _ in fake.calls:
            calls[m] = calls.get(m, 0) + 1
        log(f"Slack Web API calls the bot made: {json.dumps(calls, sort_keys=True)}")
        bot_checks(ops_port)
        if prometheus is not None:
            await prometheus_checks()
        backup_and_restore(pg_port)
        if os.environ.get("SMOKE_DRAIN"):
            await drain(fake, worker_ports)
        log("PASS")
        return 0
    except AssertionError as exc:
        log(f"FAILED: {exc}")
        for m in fake.bot_posts():
            log(f"  bot posted: {m.current.splitlines()[0][:100] if m.current else '(blocks)'!r}")
        return 1
    finally:
        await fake.close()
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(10)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
