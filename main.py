"""Command line: run the assistant (Telegram, or the console without a token), chat, ask, check.

python main.py                 Telegram if TELEGRAM_BOT_TOKEN is set, else the console chat
python main.py chat            the console chat
python main.py ask "what is an SCR" [--json]   replies as the chat would give them ("-": stdin)
python main.py check           validate knowledge and configuration
python main.py eval FILE.yaml [--json] [--min 0.9]   score the answers to a file of questions
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

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


async def evaluate(
    settings: Settings, path: Path, json_out: bool, floor: float | None, answerable: bool
) -> int:
    from bot.evaluation import EvalFileError, read_questions, run_eval

    try:
        questions = read_questions(path)
    except EvalFileError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    assistant = await build_assistant(settings, database=":memory:")
    try:
        summary = await run_eval(assistant.conversation, questions)
    finally:
        await assistant.close()
    print(json.dumps(summary.as_json(), ensure_ascii=False) if json_out else summary.as_text())
    accuracy = summary.accuracy(answerable_only=answerable)
    if floor is not None and accuracy < floor:
        print(f"Accuracy {accuracy:.1%} is under the floor of {floor:.1%}.", file=sys.stderr)
        return 1
    return 0


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("give a fraction between 0 and 1, such as 0.9")
    return value


def check(settings: Settings) -> int:
    problems: list[str] = []
    try:
        load_knowledge(settings.path(settings.knowledge_dir), semantic=False)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="main.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="Telegram if TELEGRAM_BOT_TOKEN is set, else the console chat")
    sub.add_parser("chat", help="the local console chat")
    ask_parser = sub.add_parser("ask", help="print the replies to questions, as chat gives them")
    ask_parser.add_argument("questions", nargs="+", help='questions, or "-" for one per stdin line')
    ask_parser.add_argument("--json", action="store_true", help="one JSON object per question")
    sub.add_parser("check", help="validate knowledge and configuration")
    eval_parser = sub.add_parser("eval", help="score the answers to a file of questions")
    eval_parser.add_argument("file", type=Path, help="questions: sections of {q, expect}")
    eval_parser.add_argument("--json", action="store_true", help="a machine-readable summary")
    eval_parser.add_argument(
        "--min", type=fraction, default=None, help="exit 1 if accuracy is under this fraction"
    )
    eval_parser.add_argument(
        "--answerable",
        action="store_true",
        help="score only questions whose expected ids exist (for --min too)",
    )
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
    try:
        if args.command == "ask":
            questions = args.questions
            if questions == ["-"]:
                questions = [line.strip() for line in sys.stdin if line.strip()]
            return asyncio.run(ask(settings, questions, args.json))
        if args.command == "eval":
            return asyncio.run(evaluate(settings, args.file, args.json, args.min, args.answerable))
        asyncio.run(serve(settings, console=args.command == "chat"))
    except KnowledgeError as exc:
        print("The knowledge base or the registry is invalid; not starting.", file=sys.stderr)
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
