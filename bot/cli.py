"""The ``campaignbot`` command line. Heavy modules (torch) are imported only by the subcommands that need them."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from pathlib import Path
from typing import NoReturn

from engine import redact
from engine.brief import MAX_VARIANTS, SIZES, TONES, Brief, suggest
from engine.errors import CampaignbotError, UserError
from engine.steering import steer_from_text

EXAMPLE = 'campaignbot generate "smart watch for runners" --tone playful --variants 4'


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad flags as one friendly line and exit code 2 (no usage dump, no traceback)."""

    def error(self, message: str) -> NoReturn:
        m = re.search(r"unrecognized arguments: (--?[\w-]+)", message)
        hint = ""
        if m:
            parsers = [self] + [
                p
                for a in self._actions
                if isinstance(a, argparse._SubParsersAction)
                for p in a.choices.values()
            ]
            known = sorted(
                {o for p in parsers for a in p._actions for o in a.option_strings if o.startswith("--")}
            )
            hint = suggest(m.group(1), known)
        self.exit(2, f"campaignbot: error: {message}.{hint} See '{self.prog} --help'.\n")


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")
    return s or "campaign"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="campaignbot", description="Chat-native creative studio: ad copy + visuals from a brief."
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    g = sub.add_parser(
        "generate",
        help="write finished ad creatives for a brief into a folder",
        description=f"Example: {EXAMPLE} --out out/watch. "
        "Refine: campaignbot generate --out out/watch --refine 2 --steer 'shorter, bluer'.",
    )
    g.add_argument("brief", nargs="?", default=None, help='what to advertise, e.g. "smart watch for runners"')
    g.add_argument("--tone", default="friendly", help=f"one of: {', '.join(TONES)} (default friendly)")
    g.add_argument(
        "--variants", type=int, default=None, help=f"how many creatives, 1-{MAX_VARIANTS} (default 4)"
    )
    g.add_argument("--size", default=None, help=f"one of: {', '.join(SIZES)} (default square)")
    g.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed (default 7); the same seed gives the same creatives",
    )
    g.add_argument("--lang", default=None, help="copy language: en or zh (default: detected from the brief)")
    g.add_argument("--audience", default="", help='who it is for, e.g. "marathon beginners"')
    g.add_argument("--keywords", default="", help='words to use, comma separated, e.g. "GPS, battery"')
    g.add_argument("--avoid", default="", help='words never to use, comma separated, e.g. "cheap, free"')
    g.add_argument("--length", default="medium", help="body length: short, medium or long (default medium)")
    g.add_argument("--device", default=None, help="auto (CUDA when present), cpu, cuda or cuda:N")
    g.add_argument(
        "--dtype", default=None, help="auto, fp32, bf16 or fp16 (default: fp32 on CPU, bf16 on GPU)"
    )
    g.add_argument("--out", type=Path, default=None, help="output folder (default out/<brief>)")
    g.add_argument(
        "--refine",
        type=int,
        default=None,
        metavar="K",
        help="make the next round in --out from variant K of its latest round",
    )
    g.add_argument(
        "--steer", default=None, help='with --refine: e.g. "shorter", "more playful", "bluer", "different"'
    )
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    w = sub.add_parser("worker", help="run the inference worker process (takes jobs from the queue)")
    w.add_argument("args", nargs=argparse.REMAINDER, help="--burst, --health, --device, --name")
    sub.add_parser("migrate", help="create or upgrade the database schema (Alembic)")
    pr = sub.add_parser(
        "prune",
        help="delete campaigns, images and exports older than the retention settings allow",
        description="Deletes what CAMPAIGNBOT_RETENTION_DAYS, CAMPAIGNBOT_IMAGE_RETENTION_DAYS and "
        "CAMPAIGNBOT_EXPORT_RETENTION_DAYS allow (0 keeps that kind forever), never anything of a campaign "
        "with a job still active, and prints what it removed. The running service does this hourly.",
    )
    pr.add_argument("--dry-run", action="store_true", help="print what would be removed; delete nothing")
    r = sub.add_parser(
        "run", help="the chat service: Slack/Discord when configured, else the local playground"
    )
    r.add_argument("--playground", action="store_true", help="also serve the playground beside Slack/Discord")
    sub.add_parser("console", help="the engine + worker with a terminal chat, to try campaigns by hand")

    t = sub.add_parser("train", help="rebuild the house models (copy corpus + GPT-2, visual GAN)")
    t.add_argument("what", choices=["copy", "visual"], help="which model to train")
    t.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the trainer (see --help of each)")
    return p


def _validate_generate(a: argparse.Namespace) -> Brief | None:
    if a.variants is not None and not 1 <= a.variants <= MAX_VARIANTS:
        raise UserError(f"--variants must be 1-{MAX_VARIANTS} (got {a.variants}); try --variants 4.")
    if a.size is not None:
        size = a.size.strip().lower()
        if size not in SIZES:
            raise UserError(
                f"Unknown size '{a.size}'.{suggest(size, tuple(SIZES))} Sizes: {', '.join(SIZES)}."
            )
        a.size = size
    if a.refine is not None:
        if a.out is None:
            raise UserError(
                "--refine needs --out, the folder of an earlier run, e.g. --out out/watch --refine 2."
            )
        if a.brief:
            raise UserError("--refine continues an earlier run; leave out the brief (it is read from --out).")
        return None
    if a.brief is None:
        raise UserError(f"Give a brief, e.g. {EXAMPLE}.")
    return Brief.create(
        a.brief,
        audience=a.audience,
        tone=a.tone,
        language=a.lang,
        length=a.length,
        keywords=a.keywords,
        avoid=a.avoid,
    )


def _latest_round_dir(out: Path) -> tuple[int, Path]:
    rounds = sorted(
        (int(m.group(1)), d) for d in out.glob("round-*") if (m := re.fullmatch(r"round-(\d+)", d.name))
    )
    if not rounds:
        raise UserError(f"{out} holds no rounds; run campaignbot generate with --out {out} first.")
    return rounds[-1]


def cmd_generate(a: argparse.Namespace) -> int:
    brief = _validate_generate(a)
    from tqdm import tqdm  # noqa: PLC0415

    from engine.inference.record import read_round, write_round  # noqa: PLC0415
    from engine.inference.studio import Studio  # noqa: PLC0415

    bar = tqdm(total=100, disable=a.no_progress, bar_format="{l_bar}{bar}| {elapsed}", file=sys.stderr)

    def progress(stage: str, frac: float) -> None:
        bar.set_description_str(stage)
        bar.update(max(0, int(frac * 100) - bar.n))

    progress("loading models", 0.0)
    studio = Studio(device=a.device, dtype=a.dtype)
    if brief is not None:
        out = a.out or Path("out") / _slug(brief.product)
        rnd = studio.first_round(
            brief,
            variants=a.variants or 4,
            size=a.size or "square",
            seed=7 if a.seed is None else a.seed,
            progress=progress,
        )
    else:
        out = a.out
        _, parent_dir = _latest_round_dir(out)
        parent = read_round(parent_dir / "copy.json")
        steered, steering = steer_from_text(a.steer, parent.brief)  # the --steer text, read once here
        rnd = studio.refine_round(
            parent,
            a.refine,
            steering=steering,
            note=a.steer,
            brief=steered,
            variants=a.variants,
            size=a.size,
            seed=a.seed,
            progress=progress,
        )
    bar.close()
    round_dir = out / f"round-{rnd.number}"
    write_round(rnd, round_dir)
    t = rnd.timings
    print(f'Round {rnd.number}: {len(rnd.variants)} creatives for "{rnd.brief.product}" in {round_dir}/')
    for v in rnd.variants:
        print(f"  {v.index}. {v.copy.headline} [{v.copy.cta}]  -> {round_dir / f'variant-{v.index}.png'}")
    print(f"  contact sheet: {round_dir / 'contact-sheet.png'}")
    print(
        f"  time: copy {t.get('copy_s', 0):.1f}s, visuals {t.get('visual_s', 0):.1f}s, "
        f"compose {t.get('compose_s', 0):.1f}s on {rnd.models.get('device')}"
    )
    print(f'  refine with: campaignbot generate --out {out} --refine K [--steer "shorter"]')
    return 0


def cmd_train(a: argparse.Namespace) -> int:
    if a.what == "copy":
        from engine.inference.training import copy_cli as train_copy  # noqa: PLC0415

        return train_copy.main(a.args)
    from engine.inference.training import visual as train_visual  # noqa: PLC0415

    return train_visual.main(a.args)


def cmd_console() -> int:
    import asyncio  # noqa: PLC0415

    from bot.console_adapter import ConsoleAdapter, console_front  # noqa: PLC0415
    from bot.runner import serve  # noqa: PLC0415
    from engine.settings import Settings  # noqa: PLC0415

    settings = Settings()
    adapter = ConsoleAdapter()
    print(
        f"campaignbot console: data in {settings.data_dir.resolve()}; worker log in "
        f"{settings.data_dir.resolve() / 'logs' / 'worker.log'}"
    )
    return asyncio.run(serve(settings, [adapter], front=lambda eng, stop: console_front(adapter, eng, stop)))


def cmd_prune(a: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from bot.app import build_engine  # noqa: PLC0415
    from engine.settings import Settings  # noqa: PLC0415
    from engine.store.db import database_url  # noqa: PLC0415
    from engine.store.migrate import upgrade_async  # noqa: PLC0415

    settings = Settings()

    async def _prune() -> list[str]:
        await upgrade_async(database_url(settings.data_dir, settings.database_url))
        engine = build_engine(settings)
        try:
            return (await engine.prune(dry_run=a.dry_run)).lines()
        finally:
            await engine.close()

    for line in asyncio.run(_prune()):
        print(f"campaignbot prune: {line}" if not line.startswith(" ") else line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["worker"]:  # its options are its own (argparse's REMAINDER drops a leading --option)
        argv = ["worker", "--", *args[1:]] if len(args) > 1 and args[1] != "--" else args
    a = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if a.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines are noise here
    redact.install()  # every handler masks tokens, secrets and webhook URLs, at every level
    if os.environ.get("CAMPAIGNBOT_LOG_FORMAT", "text").lower() == "json":  # read before any settings load
        from bot.log_format import use_json  # noqa: PLC0415

        use_json()
    if a.command is None:
        parser.print_help()
        return 2
    try:
        if a.command == "generate":
            return cmd_generate(a)
        if a.command == "worker":
            from bot.app import run_worker  # noqa: PLC0415

            logging.getLogger().setLevel(logging.INFO)
            return run_worker(a.args[1:] if a.args[:1] == ["--"] else a.args)
        if a.command == "run":
            from bot.app import run  # noqa: PLC0415

            logging.getLogger().setLevel(logging.INFO)

            return run(playground=True if a.playground else None)
        if a.command == "console":
            return cmd_console()
        if a.command == "prune":
            return cmd_prune(a)
        if a.command == "migrate":
            from engine.settings import Settings  # noqa: PLC0415
            from engine.store.db import database_url  # noqa: PLC0415
            from engine.store.migrate import upgrade  # noqa: PLC0415

            s = Settings()
            upgrade(database_url(s.data_dir, s.database_url))
            print(
                f"database schema is up to date ({database_url(s.data_dir, s.database_url).split('://')[0]})"
            )
            return 0
        return cmd_train(a)
    except UserError as exc:
        print(f"campaignbot: error: {exc}", file=sys.stderr)
        return 2
    except CampaignbotError as exc:
        print(f"campaignbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("campaignbot: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
