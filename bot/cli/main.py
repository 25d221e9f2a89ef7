"""Command line: run the assistant (Telegram, or the console without a token), chat, ask, check.

python main.py                 Telegram if TELEGRAM_BOT_TOKEN is set, else the console chat
python main.py chat            the console chat
python main.py ask "what is an SCR" [--json [--why]]   replies as the chat would give them
                               ("-": one question per stdin line); --why: the signals behind it
python main.py check           validate knowledge and configuration, every partnership's pack
python main.py coverage        write docs/coverage.md, the canonical index and what answers it
python main.py eval FILE.yaml [--json] [--min 0.9]   score the answers to a file of questions
python main.py eval URGENT.txt  (or FILE.yaml --urgent URGENT.txt)   urgent recall and precision
python main.py outbox [retry REF]   list emails the mail server refused; queue one again
python main.py registry apply   put the registry file in use (signs out chats it no longer lists)
python main.py serve [--webhook]   the HTTP server: the web chat (docs/web.md), and Telegram
                               for each partnership with a token (polling unless --webhook or
                               telegram.mode: webhook); /healthz, /readyz, /metrics
python main.py new-partnership "NAME"   a new partnership's pack, to fill in (docs/partnerships.md)

ask, eval, chat and outbox take --partnership ID (default: the settings' `partnership:`); the
assistant itself serves every partnership the settings list.
"""

from __future__ import annotations

import os

# One BLAS thread: each message is scored by meaning with one small matrix-vector product, for
# which OpenBLAS's default of a thread per core only spins a second thread (the same latency,
# twice the CPU on a quiet machine; five times slower on a busy one: bench/blas_threads.py).
# Set before numpy is first imported, which is below; a setting already in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import asyncio
import contextlib
import ctypes
import dataclasses
import gc
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.app import apply_registry, build_assistant
from bot.channels import import_telegram
from bot.channels.console import render_all, run_console
from bot.cli.packs import (
    TEAMS_APP,
    check_packs,
    scaffold,
    teams_app_problems,
    teams_app_values,
)
from bot.core.loading import load_all
from bot.core.numbers import counted
from bot.core.replies import Incoming, Reply
from bot.mail.outbox import IDLE_POLL_SECONDS, refused_line
from bot.ops.logs import setup_logging
from bot.storage import Storage
from bot.storage.interface import DatabaseError
from config import teams_manifest
from config.private import UMASK, private_file
from config.registry import RegistryChanged
from config.settings import (
    InstallationSettings,
    Settings,
    SettingsError,
    is_database_url,
    load_installation,
    load_settings,
)
from config.validation import KnowledgeError
from knowledge import cache
from knowledge.coverage import as_markdown
from knowledge.decision import decide
from knowledge.loader import Knowledge
from knowledge.query import read_query

if TYPE_CHECKING:  # imported where used: `ask`, `check` and `eval` never need Telegram's libraries
    from bot.installation import Installation

log = logging.getLogger(__name__)

NO_TOKEN_BANNER = (
    "No TELEGRAM_BOT_TOKEN set: starting the local console chat. "
    "To connect Telegram, set TELEGRAM_BOT_TOKEN to your bot's token and run again."
)


def as_json(replies: Sequence[Reply]) -> dict[str, object]:
    first = replies[0]
    text, buttons = render_all(replies)
    return {
        "kind": first.kind,
        "id": first.id,
        "ids": list(first.ids),
        "text": text,
        "links": [{"label": link.label, "url": link.url} for r in replies for link in r.links],
        "buttons": [{"label": b.label, "data": b.data} for b in buttons],
        "files": [f.filename for r in replies for f in r.files],
    }


async def why(knowledge: Knowledge, question: str) -> list[str]:
    """The signals behind the reply to a question asked in a new chat: the safety screen
    first, as the core asks it, then the decision (knowledge/decision.py)."""
    await knowledge.ready()
    lines = []
    if knowledge.decline.adult_only(question):
        lines.append("safety screen: an adult's matter, not screened")
    else:
        kind = await knowledge.urgent.screen(question)
        lines.append(f"safety screen: {kind.id if kind else 'no live concern'}")
        if knowledge.urgent.settled(question):
            lines.append("safety screen: settled (past and in hand, or a worry about oneself)")
    return [*lines, *decide(knowledge, read_query(question, knowledge.index)).why]


async def ask(settings: Settings, questions: list[str], json_out: bool, explain: bool) -> int:
    # A throwaway database: checking the knowledge base must not fill the real one.
    assistant = await build_assistant(settings, database=":memory:")
    try:
        for number, question in enumerate(questions):
            replies = await assistant.conversation.handle(Incoming(f"ask:{number}", question))
            if json_out:
                out = as_json(replies)
                if explain:
                    out["why"] = await why(assistant.knowledge, question)
                print(json.dumps(out, ensure_ascii=False))
            else:
                if len(questions) > 1:
                    print(f"> {question}")
                print(render_all(replies)[0])
                if len(questions) > 1:
                    print()
    finally:
        await assistant.close()
    return 0


async def evaluate(
    settings: Settings,
    path: Path,
    json_out: bool,
    floor: float | None,
    answerable: bool,
    urgent_path: Path | None = None,
) -> int:
    """Questions (.yaml), live concerns (.txt in urgent.txt's format), or both with --urgent."""
    from bot.cli.evaluation import (
        EvalFileError,
        read_questions,
        read_urgent_lines,
        run_eval,
        run_urgent_eval,
    )

    if path.suffix == ".txt" and urgent_path is None:
        path, urgent_path = None, path  # type: ignore[assignment]
    try:
        questions = read_questions(path) if path is not None else None
        lines = read_urgent_lines(urgent_path) if urgent_path is not None else None
    except EvalFileError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    assistant = await build_assistant(settings, database=":memory:")
    try:
        summary = await run_eval(assistant.conversation, questions) if questions else None
        urgent = await run_urgent_eval(assistant.conversation, lines) if lines else None
    finally:
        await assistant.close()
    if json_out:
        out: dict[str, object] = summary.as_json() if summary else {}
        if urgent:
            out["urgent"] = urgent.as_json()
        print(json.dumps(out, ensure_ascii=False))
    else:
        print("\n\n".join(part.as_text() for part in (summary, urgent) if part))
    # The floor applies to the questions' accuracy, or to the urgent recall when only that ran.
    if summary:
        score, name = summary.accuracy(answerable_only=answerable), "Accuracy"
    else:
        assert urgent is not None
        score, name = urgent.recall(), "Urgent recall"
    if floor is not None and score < floor:
        print(f"{name} {score:.1%} is under the floor of {floor:.1%}.", file=sys.stderr)
        return 1
    return 0


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("give a fraction between 0 and 1, such as 0.9")
    return value


def check(
    settings: Settings,
    settings_of: Callable[[str], Settings] | None = None,
    installation_problems: Sequence[str] = (),
) -> int:
    """Validate every pack (with `settings_of`, which reads another pack's settings; else the
    partnership of `settings` alone) and the partnerships the settings list; problems exit 1,
    warnings do not."""
    checked = check_packs(settings, settings_of)
    for warning in checked.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    problems = [*installation_problems, *checked.problems]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"{counted(len(problems), 'problem')} found.", file=sys.stderr)
        return 1
    served = ", ".join(checked.partnerships)
    print(f"Knowledge and configuration are valid ({served}).")
    return 0


def teams_app(settings: Settings, out: Path | None) -> int:
    """Write the partnership's Teams app package, to upload in Teams (docs/teams.md)."""
    if not settings.endpoints.teams_app_id:
        print("Set endpoints.teams_app_id (the Azure Bot's app id) first.", file=sys.stderr)
        return 1
    problems = teams_app_problems(settings, "")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    target = out or settings.path(f"var/teams-app-{settings.partnership}.zip")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(teams_manifest.package(TEAMS_APP, teams_app_values(settings)))
    print(f"Wrote {target}: upload it in Teams (Apps, Manage your apps, Upload an app).")
    return 0


def new_partnership(settings: Settings, name: str, pid: str | None) -> int:
    """Scaffold a pack in the partnerships folder (where `check` and the installation look)."""
    folder = settings.pack_path.parent
    try:
        target = scaffold(folder, name, pid)
    except (ValueError, OSError) as exc:
        print(f"No pack written: {exc}", file=sys.stderr)
        return 1
    print(
        f"Wrote {target}. Replace each REPLACE: value, check every contact with the partnership "
        f"and set confirmed: true, then run `main.py check` (docs/partnerships.md). To serve "
        f"it, add `- id: {target.name}` under partnerships: in the settings, and /reload."
    )
    return 0


async def outbox(settings: Settings, action: str | None, reference: str | None) -> int:
    """List `settings`' partnership's refused emails, or queue one again (the running
    assistant sends it)."""
    storage = await Storage.open(
        settings.database_target(),
        settings.partnership,
        default_partnership=settings.default_partnership,
    )
    try:
        if action == "retry" and reference:
            if not await storage.outbox.requeue_failed_email(
                reference, time.time(), "command line"
            ):
                print(f"No refused email has the reference {reference}.", file=sys.stderr)
                return 1
            print(
                f"{reference} is queued again. The running assistant sends it within "
                f"{IDLE_POLL_SECONDS:g} seconds (or at its next start)."
            )
            return 0
        refused = await storage.outbox.failed_emails()
        for item in refused:
            print(refused_line(item))
        if not refused:
            print("No refused emails.")
        return 0
    finally:
        await storage.close()


def coverage(settings: Settings, out: Path) -> int:
    """Write the canonical index as markdown (docs/coverage.md)."""
    knowledge = load_all(settings, semantic=False).knowledge
    out.write_text(as_markdown(knowledge.coverage), encoding="utf-8")
    print(f"Wrote {out}.")
    return 0


async def registry(settings: Settings) -> int:
    """`registry apply`: the staff action that puts an edited registry in use."""
    applied, signed_out = await apply_registry(settings)
    print(
        f"The registry in {settings.registry_path} is now in use: "
        f"{counted(len(applied.officers), 'liaison officer')}, "
        f"{counted(len(applied.administrators), 'administrator')}. Chats signed out because "
        f"their address is no longer registered: {len(signed_out)}. Restart the running "
        "assistants (or type /reload in each) so they use it too."
    )
    return 0


def freeze_startup_objects() -> None:
    """Keep what start-up built (the knowledge, its indexes, the libraries) out of every later
    garbage collection: it lives as long as the process, yet each full collection would walk
    its 110,000 objects again (about 80 ms; one ran in every burst of 2,000 messages in
    bench/throughput.py). Then give the memory start-up used and freed (parsed YAML, the
    tokenizer's JSON) back to the system: glibc keeps freed memory in the process otherwise,
    10 MB of the bot's resident memory (docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to give back
        ctypes.CDLL("libc.so.6").malloc_trim(0)


async def settle(installation: Installation, may_restart: bool = False) -> None:
    """Wait for every partnership's vectors (read from the cache: a moment), so that they are
    among what start-up built, then freeze it all (`freeze_startup_objects`). With
    `may_restart`, a start that had to build the derived files raises `Restart`, its
    installation closed."""
    for assistant in installation.assistants.values():
        await assistant.knowledge.ready()
    if may_restart and cache.written():
        await installation.close()
        raise Restart
    freeze_startup_objects()


# Set in the environment of the process a start replaced itself with: it restarts once at most.
RESTARTED = "ASSISTANT_RESTARTED"


class Restart(Exception):
    """Start-up built the knowledge's derived files (the cache was empty, or the knowledge
    changed): start again, reading them back.

    Building them (the topics' BM25 index with bm25s, every name embedded, the YAML parsed,
    the Word template filled with docxtpl) leaves its libraries imported and its peak in the
    allocator: a first start held 145-152 MB where a start that reads the files back holds
    108-117 (docs/benchmarks.md). Only loading tells whether the cache had everything, so
    rather than a child process at every start, the process that had to build them replaces
    itself (same pid, same arguments) once they are written."""


def restart() -> None:
    """Replace this process with the same command, which now finds the derived files."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    logging.shutdown()
    environment = {**os.environ, RESTARTED: "1"}
    # sys.executable, not the argv[0] typed: "python3" could find another interpreter first.
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environment)


async def open_installation(
    adjust: Callable[[Settings], Settings] = lambda settings: settings,
) -> Installation:
    """Every partnership the settings serve, built over one database (bot/installation.py);
    `adjust` applies the command line's options to each (and again at each /reload)."""
    from bot.installation import Installation

    def read() -> InstallationSettings:
        found = load_installation()
        return dataclasses.replace(found, partnerships=tuple(map(adjust, found.partnerships)))

    return await Installation.open(await asyncio.to_thread(read), reread=read)


async def serve(settings: Settings, console: bool, may_restart: bool = False) -> None:
    """Serve every partnership in this event loop until stopped: their Telegram bots by long
    polling, or the console chat (with `settings`' partnership) when asked or when none has a
    token; each partnership's outbox, retention and mailbox beside them. `may_restart`: see
    `settle`."""
    from bot.installation import PollingBots, Workers

    installation = await open_installation()
    await settle(installation, may_restart)
    has_bots = any(a.settings.telegram_token for a in installation.assistants.values())
    runner = Workers() if console or not has_bots else PollingBots()
    chosen = installation.assistants.get(settings.partnership)
    alone = None  # a pack the installation does not serve, tried in the console
    try:
        await installation.start(runner)
        if isinstance(runner, PollingBots):
            log_started(installation)
            await until_stopped()
            return
        if chosen is None:
            view = installation.storage.for_partnership(settings.partnership)
            chosen = alone = await build_assistant(settings, storage=view)
            await runner.add_partnership(alone)
        await run_console(chosen.conversation, banner=None if console else NO_TOKEN_BANNER)
    finally:
        if alone is not None:
            await runner.remove_partnership(settings.partnership)
            await alone.close()
        await installation.close()


def log_started(installation: Installation) -> None:
    names = ", ".join(installation.assistants)
    log.info("serving %d partnership(s): %s", len(installation.assistants), names)


async def until_stopped() -> None:
    """Wait for Ctrl+C or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def serve_settings(
    settings: Settings, webhook: bool, host: str | None, port: int | None
) -> Settings:
    """The settings with `serve`'s command-line options applied over the file's."""
    telegram = settings.telegram
    telegram = dataclasses.replace(
        telegram,
        mode="webhook" if webhook else telegram.mode,
        listen_host=host or telegram.listen_host,
        listen_port=port or telegram.listen_port,
    )
    return dataclasses.replace(settings, telegram=telegram)


async def serve_http(
    settings: Settings,
    webhook: bool,
    adjust: Callable[[Settings], Settings] = lambda s: s,
    may_restart: bool = False,
) -> None:
    """The ASGI app (bot/server.py): the default partnership's web chat, and every
    partnership's Telegram bot (polling or webhook) where it has a token, until SIGTERM or
    Ctrl+C; `adjust` applies the command line's options to each partnership; `may_restart`:
    see `settle`."""
    from bot.server import Service, run_service

    installation = await open_installation(adjust)
    try:
        # The default partnership first: its web chat is the one served.
        default = installation.default
        others = [a for a in installation.assistants.values() if a is not default]
        Service.check([a.settings for a in (default, *others)], webhook)
        service = Service(default, webhook)
        await settle(installation, may_restart)
        await installation.start(service)  # the others join the service; mailboxes start
        log_started(installation)
        await run_service(service)
    finally:
        await installation.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="Telegram if TELEGRAM_BOT_TOKEN is set, else the console chat")
    chat_parser = sub.add_parser("chat", help="the local console chat")
    ask_parser = sub.add_parser("ask", help="print the replies to questions, as chat gives them")
    ask_parser.add_argument("questions", nargs="+", help='questions, or "-" for one per stdin line')
    ask_parser.add_argument("--json", action="store_true", help="one JSON object per question")
    ask_parser.add_argument(
        "--why", action="store_true", help="with --json: the signals behind each reply"
    )
    sub.add_parser("check", help="validate knowledge and configuration")
    coverage_parser = sub.add_parser(
        "coverage", help="write the canonical index and what answers it as markdown"
    )
    coverage_parser.add_argument(
        "--out", type=Path, default=Path("docs/coverage.md"), help="default docs/coverage.md"
    )
    eval_parser = sub.add_parser("eval", help="score the answers to a file of questions")
    eval_parser.add_argument(
        "file", type=Path, help="questions: sections of {q, expect}; or an urgent .txt file"
    )
    eval_parser.add_argument(
        "--urgent",
        type=Path,
        default=None,
        metavar="FILE",
        help="also score the urgent route on a file in urgent.txt's format (# Part 1 / # Part 2)",
    )
    eval_parser.add_argument("--json", action="store_true", help="a machine-readable summary")
    eval_parser.add_argument(
        "--min", type=fraction, default=None, help="exit 1 if accuracy is under this fraction"
    )
    eval_parser.add_argument(
        "--answerable",
        action="store_true",
        help="score only questions whose expected ids exist (for --min too)",
    )
    outbox_parser = sub.add_parser("outbox", help="list refused emails; retry REF queues one again")
    outbox_parser.add_argument("action", nargs="?", choices=["retry"])
    outbox_parser.add_argument("reference", nargs="?", help="e.g. SIN-2026-0001")
    registry_parser = sub.add_parser(
        "registry", help="apply: put the edited registry file in use on the database"
    )
    registry_parser.add_argument("action", choices=["apply"])
    serve_parser = sub.add_parser(
        "serve",
        help="the HTTP server: the web chat, Telegram if its token is set, /healthz, /readyz",
    )
    serve_parser.add_argument(
        "--webhook", action="store_true", help="receive updates by webhook (default: polling)"
    )
    serve_parser.add_argument("--host", help="listen on this address (telegram.listen_host)")
    serve_parser.add_argument("--port", type=int, help="listen on this port (telegram.listen_port)")
    teams_parser = sub.add_parser(
        "teams-app", help="write the Teams app package (manifest and icons) to upload"
    )
    teams_parser.add_argument(
        "--out", type=Path, default=None, help="default var/teams-app-<partnership>.zip"
    )
    for chosen in (chat_parser, ask_parser, eval_parser, outbox_parser, teams_parser):
        chosen.add_argument(
            "--partnership",
            metavar="ID",
            help="the partnership's pack (default: the settings' partnership:)",
        )
    new_parser = sub.add_parser("new-partnership", help="write a new partnership's pack to fill in")
    new_parser.add_argument("name", help='its name, e.g. "Example Vale Safeguarding Partnership"')
    new_parser.add_argument("--id", help="its pack's folder name (default: from the name)")
    args = parser.parse_args(argv)
    # Everything this process creates (the data folder, the database and its WAL, the log, the
    # .eml files) is the owner's only, whatever umask it was started with (config/private.py).
    os.umask(UMASK)

    try:
        settings = load_settings(partnership=getattr(args, "partnership", None))
    except SettingsError as exc:
        print(f"Configuration problem:\n{exc}", file=sys.stderr)
        return 1
    console = args.command == "chat" or (
        args.command in (None, "run") and not settings.telegram_token
    )
    if console:
        # Log lines would land in the middle of the conversation: they go to a file beside the
        # database instead, and the console says where.
        # (With PostgreSQL there is no database file: var/ then.)
        beside = "var/db" if is_database_url(settings.database) else settings.database
        log_path = private_file(settings.path(beside).parent / "assistant.log")
        log_file = log_path.open("a", encoding="utf-8")
        setup_logging(settings, log_file)
        print(f"Logs: {log_path}", file=sys.stderr)
    else:
        setup_logging(settings)
    if args.command == "check":
        try:
            load_installation()
            listed: list[str] = []
        except SettingsError as exc:
            listed = str(exc).splitlines()
        return check(settings, lambda p: load_settings(partnership=p), listed)
    if args.command == "new-partnership":
        return new_partnership(settings, args.name, args.id)
    if args.command == "teams-app":
        return teams_app(settings, args.out)
    if args.command == "coverage":
        return coverage(settings, args.out)
    if args.command == "serve":
        settings = serve_settings(settings, args.webhook, args.host, args.port)
    try:
        if args.command == "outbox":
            if args.action == "retry" and not args.reference:
                parser.error("outbox retry needs a reference, e.g. SIN-2026-0001")
            return asyncio.run(outbox(settings, args.action, args.reference))
        if args.command == "registry":
            return asyncio.run(registry(settings))
        if args.command == "ask":
            questions = args.questions
            if questions == ["-"]:
                questions = [line.strip() for line in sys.stdin if line.strip()]
            if args.why and not args.json:
                parser.error("--why goes with --json")
            return asyncio.run(ask(settings, questions, args.json, args.why))
        if args.command == "eval":
            return asyncio.run(
                evaluate(settings, args.file, args.json, args.min, args.answerable, args.urgent)
            )
        import_telegram()  # what follows serves bots: before anything imports telegram
        # Only the program itself restarts (`Restart`), never a caller passing its arguments
        # (a test), and once.
        may_restart = argv is None and RESTARTED not in os.environ
        if args.command == "serve":
            options = (args.webhook, args.host, args.port)
            asyncio.run(
                serve_http(
                    settings,
                    settings.telegram.mode == "webhook",
                    lambda one: serve_settings(one, *options),
                    may_restart,
                )
            )
        else:
            asyncio.run(serve(settings, args.command == "chat", may_restart))
    except Restart:
        log.info("derived files built and kept; starting again to read them back")
        restart()
    except KnowledgeError as exc:
        print("The knowledge base or the registry is invalid; not starting.", file=sys.stderr)
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    except RegistryChanged as exc:
        print(f"Not starting. {exc}", file=sys.stderr)
        return 1
    except DatabaseError as exc:
        # E.g. a schema newer than this program, or a lock held too long by another process.
        print(f"The database cannot be used; not starting: {exc}", file=sys.stderr)
        return 1
    except SettingsError as exc:  # serve: a setting it needs is missing
        print(f"Cannot serve: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        # `ask ... | head`: the reader has gone. Python's own advice: send what is still
        # buffered nowhere, so that the flush at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
