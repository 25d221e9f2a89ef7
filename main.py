"""Command line: run the assistant (Telegram, or the console without a token), chat, ask, check.

python main.py                 Telegram if TELEGRAM_BOT_TOKEN is set, else the console chat
python main.py chat            the console chat
python main.py ask "what is an SCR" [--json [--why]]   replies as the chat would give them
python main.py check           validate knowledge and configuration
python main.py eval FILE.yaml  score the answers to a file of questions
python main.py outbox [retry REF]   list emails the mail server refused; queue one again
python main.py serve [--webhook]    the HTTP server: webhook, web channels, health, metrics

The same program is installed as the `safeguarding-assistant` command (bot/cli/main.py).
"""

import sys

# Keep the program's own compiled modules (__pycache__, ignored by git) even where
# PYTHONDONTWRITEBYTECODE is set, as on the development machines: otherwise every `ask` or
# `check` compiles all of them again from source, a sixth of its time. Only this import is
# affected; the setting applies again to what is imported later. (An installed wheel is
# compiled when pip installs it.)
_dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, False
from bot.cli.main import main  # noqa: E402

sys.dont_write_bytecode = _dont_write

if __name__ == "__main__":
    sys.exit(main())
