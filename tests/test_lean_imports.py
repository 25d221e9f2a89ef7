"""What a process imports decides its start-up time and its memory (docs/benchmarks.md): a
question asked with `ask` needs neither Telegram's nor the email libraries, and a bot process
leaves out Telegram Passport's cryptography while Teams can still check tokens with it. Each
check runs in a fresh interpreter, as the program starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cli import imported_by_two_asks

ROOT = Path(__file__).resolve().parent.parent


def printed_after(code: str) -> str:
    """What `code` prints in a fresh interpreter, then the names of the modules loaded."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def loaded_after(code: str) -> set[str]:
    """The modules loaded once `code` has run in a fresh interpreter."""
    return set(printed_after(code).split())


def test_a_bot_process_imports_telegram_without_passport_cryptography() -> None:
    # One interpreter for both steps: the modules loaded by Telegram's start are printed
    # before Teams' token check is imported.
    loaded = printed_after(
        "from bot.channels import import_telegram\n"
        "import_telegram()\n"
        "import bot.installation\n"
        "import telegram._bot\n"
        "assert not telegram._bot.CRYPTO_INSTALLED\n"
        "import sys\n"
        "print(' '.join(sys.modules), end='\\n--\\n')\n"
        "import jwt.algorithms\n"
        "assert jwt.algorithms.has_crypto\n"
    )
    with_telegram, afterwards = loaded.split("\n--\n")
    assert "telegram" in with_telegram.split() and "cryptography" not in with_telegram.split()
    # Teams' token check still has it afterwards.
    assert "cryptography" in afterwards.split()


def test_the_conversation_core_loads_neither_the_address_checker_nor_telegram() -> None:
    loaded = loaded_after("import bot.app\nimport bot.core.conversation")
    assert "email_validator" not in loaded and "telegram" not in loaded


def test_a_second_ask_imports_none_of_what_the_first_needed_to_fill_the_cache(
    tmp_path: Path,
) -> None:
    """The first `ask` on an empty cache builds the topics' text index (bm25s, which imports
    tqdm; knowledge/passages.py) and checks the registry's addresses (email_validator;
    bot/core/loading.py); the second reads both back and imports none of them. One pair of
    fresh interpreters for all three: each pair costs two starts."""
    modules = ("bm25s", "tqdm", "email_validator")
    assert imported_by_two_asks(tmp_path, *modules) == [[True] * 3, [False] * 3]


def test_the_program_scores_with_one_blas_thread_unless_told_otherwise() -> None:
    """bench/blas_threads.py: a thread per core only spins a second thread for one message. The
    setting must be in place before numpy is first imported, which reads it once."""
    code = (
        "import sys\n"
        "import bot.cli\n"
        "before = 'numpy' in sys.modules\n"
        "import bot.cli.main, os\n"
        "print(os.environ['OPENBLAS_NUM_THREADS'], before)"
    )
    for given, expected in ((None, ["1", "False"]), ("2", ["2", "False"])):
        env = {
            "PATH": "/usr/bin:/bin",
            **({} if given is None else {"OPENBLAS_NUM_THREADS": given}),
        }
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.split()[-2:] == expected, (given, done.stdout)
