"""The job queue on Redis Streams, for scale-out: worker hosts that share nothing with the bot but Redis.

Layout (every key under one prefix, by default ``{campaignbot}:``; the braces are a Redis Cluster hash tag, so
all keys live in one slot and the scripts below may touch them all):

- ``jobs``: a stream with one entry per job (``id`` = the job id), read by the consumer group ``workers``.
  A job a worker took is a *pending entry* of that worker; its lease is the entry's idle time. Every
  progress report resets it (``XCLAIM ... JUSTID``); a job whose worker went silent for longer than the lease
  is taken by another worker with ``XAUTOCLAIM``. A job given back (a clean stop, a retry) stays pending with
  its idle time set high, so the next claim takes it before newer jobs. Entries are removed (``XACK`` +
  ``XDEL``) only when their job has finished; nothing pending is ever trimmed.
- ``job:<id>``: a hash with the job's state, spec, attempts, lease, progress, result and error (the same
  fields as the SQL queue's ``jobs`` row), and the variants finished before the round is done: each one's
  JSON under ``pv:<index>``, their indexes in report order in ``partial``. It expires ``keep_seconds`` after
  the engine handled its outcome.
- ``active`` (sorted set, FIFO order): the jobs queued or running, for positions and depth; ``user:<name>``:
  a user's active jobs; ``unhandled`` (sorted set): jobs whose outcome the engine has not handled yet.
- ``dead``: a dead-letter stream. A job delivered ``max_attempts`` times (its worker died, or it kept
  failing with a bug) ends there with its reason, and fails with one clear message in its thread.
- ``workers``: a hash of worker heartbeats.

Every state change is one Lua script, so it is atomic: two workers never take one job, a stale worker's
late report is refused, and a cancel cannot race a claim. Implements :class:`engine.queue.JobQueue` and
:class:`engine.queue.JobWatchdog`; the queue contract suite (``tests/contract/test_queue.py``) runs on it as on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from engine.jobs import Job, JobSpec, JobState, RoundResult, VariantResult, WorkerInfo
from engine.queue.base import WorkerWatch
from engine.store.models import now

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "{campaignbot}:"
GROUP = "workers"
KEEP_SECONDS = 7 * 86400.0  # a handled job's hash stays this long (history, redelivered events)
DEAD_LETTERS_KEPT = 10_000  # the dead-letter stream keeps about this many entries (it is only for operators)

_SCRIPT = r"""
local op, now, p = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local stream, group = p .. 'jobs', 'workers'
local active, unhandled = p .. 'active', p .. 'unhandled'
local RELEASED_IDLE = '1000000000000'  -- a given-back entry looks long idle: the next claim takes it

local function jkey(id) return p .. 'job:' .. id end

local function forget_entry(entry)
  if entry and entry ~= '' then
    redis.call('XACK', stream, group, entry)
    redis.call('XDEL', stream, entry)
  end
end

local function finish(id, state, fields)
  local jk = jkey(id)
  local entry, user = unpack(redis.call('HMGET', jk, 'entry', 'user'))
  redis.call('HSET', jk, 'state', state, 'stage', state, 'finished_at', now, 'updated_at', now, unpack(fields))
  redis.call('HINCRBY', jk, 'progress_seq', 1)
  forget_entry(entry)
  redis.call('ZREM', active, id)
  if user then redis.call('SREM', p .. 'user:' .. user, id) end
end

local function dead_letter(id, reason)
  redis.call('XADD', p .. 'dead', 'MAXLEN', '~', ARGV[#ARGV], '*', 'id', id, 'reason', reason, 'at', now)
end

-- take (id, entry) for worker w, or say why not (nil: look further)
local function take(id, entry, w, lease)
  local jk = jkey(id)
  local st = redis.call('HMGET', jk, 'state', 'attempts', 'max_attempts', 'cancel_requested', 'worker',
                        'lease_until')
  local state = st[1]
  if not state or (state ~= 'queued' and state ~= 'running') then
    forget_entry(entry)  -- finished (or unknown): nothing to run
    return nil
  end
  if state == 'running' and tonumber(st[6]) >= now then
    -- idle past this worker's lease but not past the job's own: its owner keeps it
    redis.call('XCLAIM', stream, group, st[5], 0, entry, 'JUSTID')
    return nil
  end
  if st[4] == '1' then
    finish(id, 'cancelled', {})
    return nil
  end
  local attempts, max_attempts = tonumber(st[2]), tonumber(st[3])
  if attempts >= max_attempts then
    local why = 'the worker stopped ' .. attempts .. ' times while making this; giving up'
    finish(id, 'failed', {'error', why})
    dead_letter(id, why)
    return {'ended', id}
  end
  redis.call('HSET', jk, 'state', 'running', 'worker', w, 'lease_until', now + lease, 'attempts', attempts + 1,
             'stage', 'starting', 'updated_at', now)
  redis.call('HINCRBY', jk, 'progress_seq', 1)
  return {'taken', state, st[5] or '', redis.call('HGETALL', jk)}
end

if op == 'enqueue' then
  local id, spec, user, max_attempts = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
  local jk = jkey(id)
  if redis.call('EXISTS', jk) == 1 then return 0 end
  local seq = redis.call('INCR', p .. 'seq')
  local entry = redis.call('XADD', stream, '*', 'id', id)
  redis.call('HSET', jk, 'spec', spec, 'user', user, 'state', 'queued', 'attempts', 0,
             'max_attempts', max_attempts, 'worker', '', 'lease_until', 0, 'cancel_requested', 0,
             'stage', 'queued', 'percent', 0, 'progress_seq', 0, 'created_at', now, 'updated_at', now,
             'handled', 0, 'entry', entry, 'seq', seq)
  redis.call('ZADD', active, seq, id)
  redis.call('ZADD', unhandled, seq, id)
  redis.call('SADD', p .. 'user:' .. user, id)
  return 1

elseif op == 'claim' then
  local w, lease = ARGV[4], tonumber(ARGV[5])
  local ended = {}
  local lease_ms = math.floor(lease * 1000)
  -- first the entries idle past the lease (a silent worker's, or given back), oldest first
  local cursor = '0-0'
  repeat
    local r = redis.call('XAUTOCLAIM', stream, group, w, lease_ms, cursor, 'COUNT', 1)
    cursor = r[1]
    for _, e in ipairs(r[2]) do
      local got = take(e[2][2], e[1], w, lease)
      if got and got[1] == 'taken' then return {got[2], got[3], got[4], ended} end
      if got then table.insert(ended, got[2]) end
    end
  until cursor == '0-0'
  -- then new entries
  for _ = 1, 1000 do
    local r = redis.call('XREADGROUP', 'GROUP', group, w, 'COUNT', 1, 'STREAMS', stream, '>')
    if not r then return {false, false, false, ended} end
    local e = r[1][2][1]
    local got = take(e[2][2], e[1], w, lease)
    if got and got[1] == 'taken' then return {got[2], got[3], got[4], ended} end
    if got then table.insert(ended, got[2]) end
  end
  return {false, false, false, ended}

elseif op == 'progress' then
  local id, w, stage, pct, lease = ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
  local jk = jkey(id)
  local st = redis.call('HMGET', jk, 'state', 'worker', 'cancel_requested', 'entry')
  if st[1] ~= 'running' or st[2] ~= w then return 0 end
  if st[3] == '1' then
    finish(id, 'cancelled', {})
    return 0
  end
  redis.call('HSET', jk, 'stage', stage, 'percent', pct, 'lease_until', now + lease, 'updated_at', now)
  redis.call('HINCRBY', jk, 'progress_seq', 1)
  redis.call('XCLAIM', stream, group, w, 0, st[4], 'JUSTID')  -- idle 0: the lease is renewed
  return 1

elseif op == 'partial' then
  -- one finished variant: its JSON under 'pv:<index>' (kept as the worker sent it, never re-encoded),
  -- its index appended to 'partial' (the report order) unless an earlier delivery reported it already
  local id, w, index, variant = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
  local jk = jkey(id)
  local st = redis.call('HMGET', jk, 'state', 'worker', 'cancel_requested', 'partial', 'pv:' .. index)
  if st[1] ~= 'running' or st[2] ~= w then return 0 end
  if st[3] == '1' then
    finish(id, 'cancelled', {})
    return 0
  end
  local order = st[4] or ''
  if not st[5] then order = (order == '') and index or (order .. ',' .. index) end
  redis.call('HSET', jk, 'pv:' .. index, variant, 'partial', order, 'updated_at', now)
  return 1

elseif op == 'complete' then
  local id, w, result = ARGV[4], ARGV[5], ARGV[6]
  local st = redis.call('HMGET', jkey(id), 'state', 'worker')
  if st[1] ~= 'running' or st[2] ~= w then return 0 end
  finish(id, 'done', {'result', result, 'percent', 100})
  return 1

elseif op == 'fail' then
  local id, w, err, retry = ARGV[4], ARGV[5], ARGV[6], ARGV[7] == '1'
  local jk = jkey(id)
  local st = redis.call('HMGET', jk, 'state', 'worker', 'attempts', 'max_attempts', 'entry')
  if st[1] ~= 'running' or st[2] ~= w then return 0 end
  if retry and tonumber(st[3]) < tonumber(st[4]) then
    redis.call('HSET', jk, 'state', 'queued', 'worker', '', 'lease_until', 0, 'stage', 'queued (retry)',
               'updated_at', now)
    redis.call('HINCRBY', jk, 'progress_seq', 1)
    redis.call('XCLAIM', stream, group, w, 0, st[5], 'IDLE', RELEASED_IDLE, 'JUSTID')
  else
    finish(id, 'failed', {'error', err})
    if retry then dead_letter(id, err) end
  end
  return 1

elseif op == 'release' then
  local id, w = ARGV[4], ARGV[5]
  local jk = jkey(id)
  local st = redis.call('HMGET', jk, 'state', 'worker', 'attempts', 'entry')
  if st[1] ~= 'running' or st[2] ~= w then return 0 end
  redis.call('HSET', jk, 'state', 'queued', 'worker', '', 'lease_until', 0, 'stage', 'queued',
             'attempts', math.max(0, tonumber(st[3]) - 1), 'updated_at', now)
  redis.call('HINCRBY', jk, 'progress_seq', 1)
  redis.call('XCLAIM', stream, group, w, 0, st[4], 'IDLE', RELEASED_IDLE, 'JUSTID')
  return 1

elseif op == 'cancel' then
  local id = ARGV[4]
  local jk = jkey(id)
  local state = redis.call('HGET', jk, 'state')
  if state == 'queued' then
    finish(id, 'cancelled', {})
  elseif state == 'running' then
    redis.call('HSET', jk, 'cancel_requested', 1, 'updated_at', now)
  else
    return 0
  end
  return 1

elseif op == 'abandon' then
  local id, w, err = ARGV[4], ARGV[5], ARGV[6]
  local st = redis.call('HMGET', jkey(id), 'state', 'worker')
  if st[1] ~= 'running' or st[2] ~= w then return 0 end
  if err == '' then finish(id, 'cancelled', {}) else finish(id, 'failed', {'error', err}) end
  return 1

elseif op == 'drop' then
  local cutoff = tonumber(ARGV[4])
  local dropped = {}
  for _, id in ipairs(redis.call('ZRANGE', active, 0, -1)) do
    local st = redis.call('HMGET', jkey(id), 'state', 'created_at')
    if st[1] == 'queued' and tonumber(st[2]) < cutoff then
      finish(id, 'dropped', {'error', "it waited longer than the queue's time limit"})
      table.insert(dropped, id)
    end
  end
  return dropped

elseif op == 'handled' then
  local id, keep = ARGV[4], ARGV[5]
  local jk = jkey(id)
  redis.call('ZREM', unhandled, id)
  if redis.call('EXISTS', jk) == 0 then return 0 end
  redis.call('HSET', jk, 'handled', 1)
  local state = redis.call('HGET', jk, 'state')
  if state ~= 'queued' and state ~= 'running' then redis.call('EXPIRE', jk, keep) end
  return 1
end
return redis.error_reply('unknown op ' .. tostring(op))
"""


def _job(h: dict[str, str]) -> Job:
    spec = JobSpec.from_dict(json.loads(h["spec"]))
    return Job(
        id=spec.id,
        spec=spec,
        state=JobState(h["state"]),
        attempts=int(h["attempts"]),
        max_attempts=int(h["max_attempts"]),
        worker=h.get("worker") or None,
        lease_until=float(h.get("lease_until") or 0),
        cancel_requested=h.get("cancel_requested") == "1",
        stage=h.get("stage", "queued"),
        percent=int(h.get("percent") or 0),
        progress_seq=int(h.get("progress_seq") or 0),
        result=RoundResult.from_dict(json.loads(h["result"])) if h.get("result") else None,
        error=h.get("error") or None,
        created_at=float(h.get("created_at") or 0),
        finished_at=float(h["finished_at"]) if h.get("finished_at") else None,
        handled=h.get("handled") == "1",
        partial=[
            VariantResult.from_dict(json.loads(h[f"pv:{i}"]))
            for i in (h.get("partial") or "").split(",")
            if i
        ],
    )


def _pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


class RedisJobQueue:
    """The queue on Redis Streams (``CAMPAIGNBOT_QUEUE_URL=redis://host:6379/0``). See the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        keep_seconds: float = KEEP_SECONDS,
        client: aioredis.Redis | None = None,
    ):
        # Any: redis-py annotates replies as bytes | str whatever decode_responses says; here they are str.
        self.redis: Any = client or aioredis.Redis.from_url(url, decode_responses=True)
        self.prefix = prefix
        self.keep_seconds = keep_seconds
        self._script = self.redis.register_script(_SCRIPT)
        self._group_ready = False

    def key(self, name: str) -> str:
        return self.prefix + name

    async def close(self) -> None:
        await self.redis.aclose()

    async def _run(self, op: str, *args: object) -> Any:
        if not self._group_ready:
            try:
                await self.redis.xgroup_create(self.key("jobs"), GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            self._group_ready = True
        argv = [op, repr(now()), self.prefix, *(str(a) for a in args), str(DEAD_LETTERS_KEPT)]
        return await self._script(keys=[], args=argv)

    # -- the engine's side ----------------------------------------------------------------------------------
    async def enqueue(self, spec: JobSpec, *, max_attempts: int = 3) -> bool:
        """Add a job; False (and nothing changes) if a job with this id exists already."""
        return bool(await self._run("enqueue", spec.id, json.dumps(spec.to_dict()), spec.user, max_attempts))

    def job_row(self, spec: JobSpec, sessions: Any, *, max_attempts: int = 3) -> None:
        """None: Redis is not the store's database; the engine enqueues after writing the round."""
        return None

    async def cancel(self, job_id: str) -> bool:
        return bool(await self._run("cancel", job_id))

    async def get(self, job_id: str) -> Job | None:
        h = await self.redis.hgetall(self.key(f"job:{job_id}"))
        return _job(h) if h else None

    async def position(self, job_id: str) -> int:
        """1 = next to run (or running); 0 if the job is not waiting."""
        rank = await self.redis.zrank(self.key("active"), job_id)
        if rank is None:
            return 0
        state = await self.redis.hget(self.key(f"job:{job_id}"), "state")
        return 1 if state == "running" else int(rank) + 1

    async def active_for_user(self, user: str) -> int:
        return int(await self.redis.scard(self.key(f"user:{user}")))

    async def depth(self) -> int:
        return int(await self.redis.zcard(self.key("active")))

    async def _jobs(self, ids: list[str]) -> list[Job]:
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for i in ids:
                pipe.hgetall(self.key(f"job:{i}"))
            rows = await pipe.execute()
        return [_job(h) for h in rows if h]

    async def unhandled(self) -> list[Job]:
        """Jobs whose progress or outcome the engine has not fully handled yet (active or newly finished)."""
        return await self._jobs(list(await self.redis.zrange(self.key("unhandled"), 0, -1)))

    async def mark_handled(self, job_id: str) -> None:
        await self._run("handled", job_id, int(self.keep_seconds))

    async def drop_older_than(self, ttl_s: float) -> list[Job]:
        """Queued jobs older than ``ttl_s`` are dropped (after a long outage) instead of replayed."""
        ids = await self._run("drop", repr(now() - ttl_s))
        return await self._jobs(list(ids))

    async def running(self) -> list[Job]:
        jobs = await self._jobs(list(await self.redis.zrange(self.key("active"), 0, -1)))
        return [j for j in jobs if j.state == JobState.RUNNING]

    async def workers(self) -> list[WorkerInfo]:
        rows = await self.redis.hgetall(self.key("workers"))
        out = []
        for name in sorted(rows):
            d = json.loads(rows[name])
            out.append(WorkerInfo(name=name, state=d["state"], device=d["device"], last_seen=d["last_seen"]))
        return out

    async def dead_letters(self, count: int = 100) -> list[dict[str, str]]:
        """The latest dead letters, newest first: ``{"id": job id, "reason": ..., "at": time}``."""
        return [fields for _, fields in await self.redis.xrevrange(self.key("dead"), count=count)]

    # -- the worker's side ----------------------------------------------------------------------------------
    async def claim(self, worker: str, lease_s: float) -> Job | None:
        """Take the oldest job given back or whose worker's lease ran out, else the oldest new one. Jobs
        delivered ``max_attempts`` times already fail (and go to the dead letters) instead."""
        prev_state, prev_worker, flat, ended = await self._run("claim", worker, lease_s)
        for job_id in ended:
            logger.warning("job %s failed: delivered too often (dead letter)", job_id)
        if not flat:
            return None
        job = _job(_pairs(flat))
        if prev_state == "running":
            logger.warning(
                "job %s: worker %s lost its lease; %s takes it (delivery %d)",
                job.id,
                prev_worker,
                worker,
                job.attempts,
            )
        return job

    async def progress(self, job_id: str, worker: str, stage: str, percent: int, lease_s: float) -> bool:
        """Report progress and renew the lease. False means stop: the job was cancelled or taken over."""
        pct = max(0, min(100, int(percent)))
        return bool(await self._run("progress", job_id, worker, stage[:80], pct, lease_s))

    async def partial(self, job_id: str, worker: str, variant: VariantResult) -> bool:
        """One finished variant of a running job (its files published already), for the engine to post
        before the round is done. False means stop, as for :meth:`progress`; the lease is not renewed."""
        return bool(
            await self._run("partial", job_id, worker, int(variant.index), json.dumps(variant.to_dict()))
        )

    async def complete(self, job_id: str, worker: str, result: RoundResult) -> bool:
        return bool(await self._run("complete", job_id, worker, json.dumps(result.to_dict())))

    async def fail(self, job_id: str, worker: str, error: str, *, retry: bool = False) -> bool:
        return bool(await self._run("fail", job_id, worker, error[:2000], "1" if retry else "0"))

    async def release(self, job_id: str, worker: str) -> bool:
        """Give a running job back to the queue (a worker stopping cleanly); the delivery is not counted."""
        return bool(await self._run("release", job_id, worker))

    async def heartbeat(self, worker: str, state: str, *, device: str, pid: int | None = None) -> None:
        info = {"state": state, "device": device, "pid": pid or os.getpid(), "last_seen": now()}
        await self.redis.hset(self.key("workers"), worker, json.dumps(info))

    # -- the supervisor's side ------------------------------------------------------------------------------
    async def watch(self, worker: str) -> WorkerWatch | None:
        raw = await self.redis.hget(self.key("workers"), worker)
        if raw is None:
            return None
        w = json.loads(raw)
        mine = [j for j in await self.running() if j.worker == worker]
        job = mine[0] if mine else None
        updated = await self.redis.hget(self.key(f"job:{job.id}"), "updated_at") if job else None
        return WorkerWatch(
            worker=worker,
            state=w["state"],
            busy_since=w["last_seen"] if w["state"] == "busy" else None,
            job_id=job.id if job else None,
            cancel_requested=bool(job and job.cancel_requested),
            last_progress=float(updated) if updated else None,
            job_ids=tuple(j.id for j in mine),
        )

    async def abandon(self, job_id: str, worker: str, error: str | None) -> bool:
        """End a job its worker will not finish (hung, or cancelled and still running): failed with ``error``,
        not retried, or cancelled when ``error`` is None. False if it is no longer running for ``worker``."""
        return bool(await self._run("abandon", job_id, worker, (error or "")[:2000]))
