"""What a message means to a flow, read once by the core: `Said`.

The control words every flow reads the same way (yes, no, back, cancel, help, skip) are compared
after `fold`: case, surrounding spaces, a leading "/", a final "." "!" or "?", apostrophes and
runs of spaces do not matter ("Yes!" is "yes", "/back" is "back", "Don't know" is "don t know").
A flow may accept more words in one step (the form's "change" at a pre-filled answer): it
compares `Said.word`, the folded text, with its own set, built on these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Control(StrEnum):
    YES = "yes"
    NO = "no"
    BACK = "back"
    CANCEL = "cancel"
    HELP = "help"
    SKIP = "skip"


YES = frozenset(("yes", "y", "yeah", "yep", "yes please", "correct"))
NO = frozenset(("no", "n", "nope"))
BACK = frozenset(("back", "go back", "previous"))
CANCEL = frozenset(("cancel", "stop"))
HELP = frozenset(("help",))
SKIP = frozenset(("skip",))
WORDS: dict[str, Control] = {
    **dict.fromkeys(YES, Control.YES),
    **dict.fromkeys(NO, Control.NO),
    **dict.fromkeys(BACK, Control.BACK),
    **dict.fromkeys(CANCEL, Control.CANCEL),
    **dict.fromkeys(HELP, Control.HELP),
    **dict.fromkeys(SKIP, Control.SKIP),
}

_APOSTROPHES = re.compile(r"['’‘`]")


def fold(text: str) -> str:
    """`text` as a control word is compared: "  Cancel! " -> "cancel", "/Back" -> "back"."""
    folded = " ".join(_APOSTROPHES.sub(" ", text.strip().casefold()).split())
    folded = folded.removeprefix("/")
    stripped = folded.rstrip(".!?").rstrip()
    return stripped or folded  # a lone "?" stays "?"


def split_command(text: str) -> tuple[str, str]:
    """'/Report@SomeBot  pelka ' -> ('/report', 'pelka')."""
    head, _, arg = text.strip().partition(" ")
    return head.split("@", 1)[0].lower(), arg.strip()


@dataclass(frozen=True)
class Said:
    """One message, as a flow reads it.

    `pressed` is a button of the flow's own command, as (action, argument): "/form edit
    child_dob" -> ("edit", "child_dob"), and the bare command -> ("", ""). `command` is any
    command, the flow's own too, as (name, argument as typed): "/back" -> ("/back", ""). `control`
    is the control word typed, or the bare command that names one (/back, /cancel, /help, /skip).
    """

    text: str
    word: str
    control: Control | None = None
    pressed: tuple[str, str] | None = None
    command: tuple[str, str] | None = None

    @property
    def answer(self) -> str:
        """The text as an answer to the step: what was typed, or a button's action."""
        return self.text if self.pressed is None else self.pressed[0]


def read(text: str, own_command: str | None = None) -> Said:
    """Read `text` once: a button of `own_command`, another command, a control word, or an
    answer (any case, with or without @BotName, as Telegram may send a command)."""
    text = text.strip()
    word = fold(text)
    if text.startswith("/"):
        name, arg = split_command(text)
        if own_command is not None and name == own_command:
            action, _, rest = arg.partition(" ")
            pressed = (action.lower(), rest.strip())
            control = WORDS.get(fold(action))
            return Said(text, word, control, pressed=pressed, command=(name, arg))
        control = WORDS.get(name.removeprefix("/")) if not arg else None
        return Said(text, word, control, command=(name, arg))
    return Said(text, word, WORDS.get(word))
