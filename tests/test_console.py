"""The console chat and `ask`, run as a user runs them: `python main.py ...` (in this process,
through `main(argv)`, but for the two that start a real one)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import ROOT, main_env, run_main, run_main_subprocess


@pytest.mark.slow  # main.py as a process
def test_no_token_starts_console_with_banner(tmp_path: Path) -> None:
    result = run_main_subprocess(tmp_path, stdin="what's a SILP?\nquit\n")
    assert result.returncode == 0, result.stderr
    first_line = result.stdout.splitlines()[0]
    assert "TELEGRAM_BOT_TOKEN" in first_line
    assert "== Significant Incident Learning Process" in result.stdout
    assert result.stdout.rstrip().endswith("Goodbye.")
    # Log lines go to a file beside the database, not into the conversation.
    log_file = tmp_path / "assistant.log"
    assert f"Logs: {log_file}" in result.stderr
    assert "INFO" not in result.stdout + result.stderr
    assert "outbox worker started" in log_file.read_text()


def test_console_buttons_by_number_and_label(tmp_path: Path) -> None:
    result = run_main(tmp_path, "chat", stdin="/reviews\n2\nback to nothing\nquit\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "TELEGRAM_BOT_TOKEN" not in out  # `chat` forces the console: no banner
    assert "  [1] " in out
    # /reviews lists the review types; "2" picks the second one (the rapid review)
    after_two = out.split("you> ", 3)[2]
    assert after_two.startswith("== Rapid review ==")


def test_console_label_choice(tmp_path: Path) -> None:
    result = run_main(tmp_path, "chat", stdin="/reports\nlocal serious case reviews\nquit\n")
    out = result.stdout
    chosen = out.split("you> ", 3)[2]
    assert chosen.startswith("== Local serious case reviews ==")


def test_state_survives_a_restart(tmp_path: Path) -> None:
    """The session lives in SQLite: a new process sees the same database file."""
    run_main(tmp_path, "chat", stdin="hello\nquit\n")
    assert (tmp_path / "assistant.db").exists()
    again = run_main(tmp_path, "chat", stdin="what is an scr\nquit\n")
    assert "== Serious case review" in again.stdout


def test_ask_prints_reply_as_chat_gives_it(tmp_path: Path) -> None:
    result = run_main(tmp_path, "ask", "what is an SCR")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("== Serious case review")
    assert "Link: " in result.stdout
    assert not (tmp_path / "assistant.db").exists(), "ask must not touch the real database"


@pytest.mark.slow  # main.py as a process
def test_ask_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    """`ask ... | head -1`: the reader goes before the replies are written. The program stops
    with a failure code and no traceback, as other command-line tools do."""
    with subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "ask", "what is an SCR", "what is a LADO"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=main_env(tmp_path),
        cwd=tmp_path,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # the reader has gone before the first reply
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=60) == 1
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


def test_ask_json_several_questions(tmp_path: Path) -> None:
    result = run_main(tmp_path, "ask", "--json", "what is an scr", "council tax", "hello")
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["kind"] for o in objects] == ["answer", "fallback", "greeting"]
    assert objects[0]["id"] == "serious-case-review"
    assert objects[1]["id"] == "decline:other"  # declined as not ours (counted as such)
    assert objects[0]["links"][0]["url"].startswith("https://")
    assert set(objects[0]) >= {"kind", "id", "ids", "text", "links"}


def test_ask_json_from_stdin_with_choices(tmp_path: Path) -> None:
    result = run_main(tmp_path, "ask", "--json", "-", stdin="child j\nwhat's a SILP?\n")
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(objects) == 2
    assert objects[0]["kind"] == "choices"
    assert set(objects[0]["ids"]) == {"child-j-executive-summary", "child-j-lessons"}
    assert objects[1]["id"] == "significant-incident-learning-process"


def test_typed_answer_is_not_taken_for_a_button_number() -> None:
    """At a question that expects typed text (an age), "4" is the answer, not button 4."""
    from bot.channels.console import choose, numbered, render_all
    from bot.core.replies import Button, Reply

    buttons = tuple(Button(label, f"/form {label.lower()}") for label in ("Skip", "Back", "Help"))
    question = Reply("How old is the child?", buttons=buttons, expects_text=True)
    text, shown = render_all([question])
    assert "  [Skip]\n  [Back]\n  [Help]" in text and "[1]" not in text
    assert choose("3", shown, by_number=numbered([question])) is None
    assert choose("back", shown, by_number=numbered([question])) == "/form back"
    choice = Reply("Which?", buttons=buttons)
    assert choose("3", render_all([choice])[1], by_number=numbered([choice])) == "/form help"
