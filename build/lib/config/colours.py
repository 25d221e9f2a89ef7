"""Colours a partnership may choose for the web chat, and THE contrast rule they must meet.

WCAG 2.2 AA asks for a contrast ratio of at least 4.5:1 between text and its background. The
chat puts white text on the main colour (its header, buttons, the user's own messages), so a
colour that fails that is refused at start-up with its ratio, rather than shipped unreadable.
"""

from __future__ import annotations

import re

HEX = re.compile(r"#[0-9a-fA-F]{6}")
WHITE = "#ffffff"
TEXT = "#0b0c0c"  # the chat's body text
MIN_CONTRAST = 4.5


def luminance(colour: str) -> float:
    """WCAG's relative luminance of a #rrggbb colour."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """WCAG's contrast ratio of two #rrggbb colours, from 1 to 21."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def colour_problem(value: str, against: str, where: str) -> str | None:
    """What is wrong with `value` as a background for text in `against`, or None."""
    if not HEX.fullmatch(value):
        return f"{where}: expected a colour as #rrggbb, got {value!r}"
    ratio = contrast(value, against)
    if ratio < MIN_CONTRAST:
        return (
            f"{where}: {value} against {against} has a contrast of {ratio:.2f}:1; text needs at "
            f"least {MIN_CONTRAST}:1 (WCAG 2.2 AA): choose a darker colour"
            if against == WHITE
            else f"{where}: {value} against {against} has a contrast of {ratio:.2f}:1; text "
            f"needs at least {MIN_CONTRAST}:1 (WCAG 2.2 AA): choose a lighter colour"
        )
    return None
