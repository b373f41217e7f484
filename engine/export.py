"""The export bundle: every finished round of a campaign (creatives, contact sheets, copy) in one zip,
posted into the campaign's thread."""

from __future__ import annotations

import asyncio
import uuid
import zipfile
from pathlib import Path

from engine import messages as say
from engine.artifacts import LocalArtifacts
from engine.errors import UserError
from engine.jobs import RoundResult
from engine.moderation import ModerationList
from engine.rounds import Rounds
from engine.store.models import Campaign
from engine.store.repo import Repo

WITHHELD_NOTE = "withheld.txt"


def write_zip(
    out: Path, folders: list[tuple[int, Path]], prefix: str, withheld: dict[int, set[int]] | None = None
) -> None:
    """Zip each round's folder under ``<prefix>/round-N/``; written beside and renamed, never half a zip.
    The temporary name is unique, so two exports of one campaign at once both finish.

    ``withheld`` names, per round, the variants whose copy the moderation list withheld: their creatives
    stay out, and so do the files that show every variant's copy (copy.md, copy.json, the contact sheet);
    a short note says why."""
    tmp = out.with_name(f"{out.stem}.{uuid.uuid4().hex}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for number, folder in folders:
            held = (withheld or {}).get(number, set())
            skip = {f"variant-{i}.png" for i in held}
            if held:
                skip |= {"copy.md", "copy.json", "contact-sheet.png"}
                z.writestr(
                    f"{prefix}/round-{number}/{WITHHELD_NOTE}", say.export_withheld(sorted(held)) + "\n"
                )
            for f in sorted(folder.iterdir()):
                if f.name not in skip:
                    z.write(f, f"{prefix}/round-{number}/{f.name}")
    tmp.replace(out)


async def export_campaign(
    repo: Repo,
    rounds: Rounds,
    artifacts: LocalArtifacts,
    camp: Campaign,
    moderation: ModerationList | None = None,
) -> Path:
    finished = await repo.rounds(camp.id, finished_only=True)
    if not finished:
        raise UserError(say.nothing_to_export(camp.id))
    name = artifacts.export_name(camp.id, len(finished))
    out = artifacts.path(name)
    out.parent.mkdir(parents=True, exist_ok=True)
    # the rounds' folders (copied here first when the store is not this host's disk); image retention may
    # have deleted old rounds' images
    folders = []
    for r in finished:
        try:
            folders.append((r.number, await artifacts.fetch(RoundResult.from_dict(r.result or {}).dir)))
        except FileNotFoundError:
            continue
    folders = [(n, d) for n, d in folders if d.is_dir()]
    if not folders:
        raise UserError(say.images_expired(camp.id))
    withheld: dict[int, set[int]] = {}
    if moderation is not None:
        for r in finished:
            res = RoundResult.from_dict(r.result or {})
            held = {v.index for v in res.variants if moderation.matches(v.headline, v.body, v.cta)}
            if held:
                withheld[r.number] = held
    await asyncio.to_thread(write_zip, out, folders, say.cid_str(camp.id), withheld)
    await artifacts.publish(name)  # another replica may be the one that posts it
    await rounds.note(camp, f"export:{len(finished)}", say.export_ready(camp.id, len(finished)), file=out)
    return out
