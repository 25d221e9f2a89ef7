"""The words every flow reads the same way: yes, no, back, cancel, help, skip.

A typed control word is compared after `fold` (case, surrounding spaces, a final "." or "!", and
runs of spaces do not matter: "Yes!" is "yes"). Flows may accept more words in one step (the
notification form's "change" at a pre-filled answer), but build on these sets.
"""

from __future__ import annotations

YES = frozenset(("yes", "y", "yeah", "yep", "yes please", "correct"))
NO = frozenset(("no", "n", "nope"))
BACK = frozenset(("back", "go back", "previous"))
CANCEL = frozenset(("cancel", "stop"))
HELP = frozenset(("help",))
SKIP = frozenset(("skip",))


def fold(text: str) -> str:
    """`text` as a control word is compared: "  Cancel! " -> "cancel"."""
    return " ".join(text.strip().casefold().rstrip(".!").split())
