"""Command line: run the assistant (Telegram, or the console without a token), chat, ask, check.

python main.py                 Telegram if TELEGRAM_BOT_TOKEN is set, else the console chat
python main.py chat            the console chat
python main.py ask "what is an SCR" [--json]   replies as the chat would give them ("-": stdin)
python main.py check           validate knowledge and configuration
python main.py serve [--webhook]   Telegram with the HTTP server: webhook, /healthz, /readyz,
                               /metrics (polling unless --webhook or telegram.mode: webhook)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Sequence

from bot.app import build_assistant
from bot.console import render_all, run_console
from bot.logs import setup_logging
from bot.replies import Incoming, Reply
from config.registry import load_registry
from config.settings import Settings, SettingsError, load_settings
from knowledge.loader import load_knowledge
from knowledge.validation import KnowledgeError

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
    }


async def ask(settings: Settings, questions: list[str], json_out: bool) -> int:
    # A throwaway database: checking the knowledge base must not fill the real one.
    assistant = await build_assistant(settings, database=":memory:")
    try:
        for number, question in enumerate(questions):
            replies = await assistant.conversation.handle(Incoming(f"ask:{number}", question))
            if json_out:
                print(json.dumps(as_json(replies), ensure_ascii=False))
            else:
                if len(questions) > 1:
                    print(f"> {question}")
                print(render_all(replies)[0])
                if len(questions) > 1:
                    print()
    finally:
        await assistant.close()
    return 0


def check(settings: Settings) -> int:
    problems: list[str] = []
    try:
        load_knowledge(settings.path(settings.knowledge_dir))
    except KnowledgeError as exc:
        problems += exc.problems
    try:
        load_registry(settings.path(settings.registry_file))
    except KnowledgeError as exc:
        problems += exc.problems
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"{len(problems)} problem(s) found.", file=sys.stderr)
        return 1
    print("Knowledge and configuration are valid.")
    return 0


async def serve(settings: Settings, console: bool) -> None:
    """Build the assistant and run one channel in this event loop until it stops."""
    assistant = await build_assistant(settings)
    assistant.outbox.start()  # delivers queued email, including any left from the last run
    assistant.retention.start()  # runs now, then hourly
    try:
        if console or not settings.telegram_token:
            await run_console(assistant.conversation, banner=None if console else NO_TOKEN_BANNER)
        else:
            from bot.telegram import run_polling

            await run_polling(assistant)
    finally:
        await assistant.close()


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


async def serve_http(settings: Settings, webhook: bool) -> None:
    """Telegram behind the ASGI app (bot/web.py), polling or webhook, until SIGTERM/Ctrl+C."""
    from bot.web import run_server

    if not settings.telegram_token:
        raise SettingsError("serve needs TELEGRAM_BOT_TOKEN (for the console: main.py chat)")
    assistant = await build_assistant(settings)
    try:
        await run_server(assistant, webhook)
    finally:
        await assistant.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="main.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="Telegram if TELEGRAM_BOT_TOKEN is set, else the console chat")
    sub.add_parser("chat", help="the local console chat")
    ask_parser = sub.add_parser("ask", help="print the replies to questions, as chat gives them")
    ask_parser.add_argument("questions", nargs="+", help='questions, or "-" for one per stdin line')
    ask_parser.add_argument("--json", action="store_true", help="one JSON object per question")
    sub.add_parser("check", help="validate knowledge and configuration")
    serve_parser = sub.add_parser(
        "serve", help="Telegram with the HTTP server (webhook, /healthz, /readyz, /metrics)"
    )
    serve_parser.add_argument(
        "--webhook", action="store_true", help="receive updates by webhook (default: polling)"
    )
    serve_parser.add_argument("--host", help="listen on this address (telegram.listen_host)")
    serve_parser.add_argument("--port", type=int, help="listen on this port (telegram.listen_port)")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"Configuration problem:\n{exc}", file=sys.stderr)
        return 1
    console = args.command == "chat" or (
        args.command in (None, "run") and not settings.telegram_token
    )
    if console:
        # Log lines would land in the middle of the conversation: they go to a file beside the
        # database instead, and the console says where.
        log_path = settings.path(settings.database).parent / "assistant.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("a", encoding="utf-8")
        setup_logging(settings, log_file)
        print(f"Logs: {log_path}", file=sys.stderr)
    else:
        setup_logging(settings)
    if args.command == "check":
        return check(settings)
    if args.command == "serve":
        settings = serve_settings(settings, args.webhook, args.host, args.port)
    try:
        if args.command == "ask":
            questions = args.questions
            if questions == ["-"]:
                questions = [line.strip() for line in sys.stdin if line.strip()]
            return asyncio.run(ask(settings, questions, args.json))
        if args.command == "serve":
            asyncio.run(serve_http(settings, settings.telegram.mode == "webhook"))
        else:
            asyncio.run(serve(settings, console=args.command == "chat"))
    except KnowledgeError as exc:
        print("The knowledge base or the registry is invalid; not starting.", file=sys.stderr)
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    except SettingsError as exc:  # serve: a setting it needs is missing
        print(f"Cannot serve: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
