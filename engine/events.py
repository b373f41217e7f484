"""Engine events: what every adapter turns its platform's envelopes into before calling ``Engine.handle``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Where:
    """A place in a chat: platform (slack/discord/playground), workspace (team/guild), channel, thread."""

    platform: str
    workspace: str
    channel: str
    thread: str | None = None  # thread id (Slack thread_ts, Discord thread channel id, playground thread id)


@dataclass(frozen=True)
class CommandEvent:
    """``/campaign <text>`` typed by ``user`` in ``where`` (never inside a thread on Slack)."""

    where: Where
    user: str
    text: str
    event_id: str = ""  # platform delivery id, for dedupe
    user_name: str = ""


@dataclass(frozen=True)
class ReactionEvent:
    """``user`` added ``emoji`` (unicode or short name, e.g. "2️⃣", "two", "star", "x") to ``message_id``,
    or took it back (``removed``)."""

    where: Where
    user: str
    message_id: str
    emoji: str
    event_id: str = ""
    removed: bool = False


@dataclass(frozen=True)
class ReplyEvent:
    """A plain message by ``user`` in a campaign thread (``where.thread`` is set)."""

    where: Where
    user: str
    text: str
    message_id: str = ""
    event_id: str = ""


@dataclass(frozen=True)
class ButtonEvent:
    """A button click: ``action`` is e.g. ``refine`` or ``export``; ``value`` names the card (``C12-R2-V3``)."""

    where: Where
    user: str
    action: str
    value: str
    message_id: str = ""
    event_id: str = ""


Event = CommandEvent | ReactionEvent | ReplyEvent | ButtonEvent


@dataclass
class Reply:
    """What ``Engine.handle`` returns for the adapter's immediate answer (ack path).

    ``ephemeral`` replies are shown only to the user where the platform allows it."""

    text: str
    ephemeral: bool = True
    extra: dict[str, str] = field(default_factory=dict)
