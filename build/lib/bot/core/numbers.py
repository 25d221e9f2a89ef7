"""Numbers typed by people (an option's number, a code): ASCII digits only, and short.

`str.isdigit()` is true for "²", "①" and digits of other scripts, which `int()` then refuses or
reads unexpectedly, and `int()` refuses runs of more than 4,300 digits. Every place that reads a
typed number uses this module instead, so one rule holds for every channel.
"""

from __future__ import annotations

ASCII_DIGITS = frozenset("0123456789")
CODE_DIGITS = 6  # a sign-in code's length (handlers/signin.py makes them)


def is_ascii_digits(text: str, max_length: int | None = None) -> bool:
    """True for a non-empty run of 0-9 (at most `max_length` long, when given)."""
    if not text or (max_length is not None and len(text) > max_length):
        return False
    return all(c in ASCII_DIGITS for c in text)


def typed_code(text: str) -> str | None:
    """The sign-in code in what someone typed ("123456", "123 456", "123-456"), or None when
    it is not one: the chat's sign-in and the staff page's read a code the same way."""
    code = "".join(text.split()).replace("-", "")
    return code if is_ascii_digits(code) and len(code) == CODE_DIGITS else None


def parse_number(text: str, max_digits: int = 4) -> int | None:
    """The number written in `text` (ASCII digits, at most `max_digits`), else None."""
    text = text.strip()
    return int(text) if is_ascii_digits(text, max_digits) else None


def pick_number(text: str, count: int) -> int | None:
    """`text` as a position 1..count (a numbered option), else None."""
    number = parse_number(text)
    return number if number is not None and 1 <= number <= count else None


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """'1 question', '15 minutes', '0 problems': a count and its noun, written properly."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
