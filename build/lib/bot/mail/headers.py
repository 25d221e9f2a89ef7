"""Header values set as text to be encoded, never parsed: nothing a person types can add a header.

Why not `message["Subject"] = value`: the email library parses a value assigned to a header, and
parsing decodes RFC 2047 encoded words. `=?utf-8?q?Acme=0D=0ABcc=3A_evil=40example=2Ecom?=` is
plain ASCII anyone can type into a form field or an email's subject; assigned as a header value
it became "Acme", a line break and a `Bcc:` line of the attacker's choosing (or a blank line that
pushed Message-ID, Date and the MIME structure into the body). Removing literal line breaks
does not help: the break only appears once the word is decoded.

So a value from a person is a `HeaderValue`: the header object itself, which the library stores
as it is and asks to `fold` when the message is written. Free text (`text`) is written as
RFC 2047 encoded words whenever it is not plain ASCII or contains "=?", so a reader decodes it
back to exactly what was typed, encoded words included, as literal text. Addresses and
Message-IDs (`structured`) are checked ASCII tokens, written as they are.

`text` also turns every line break into a space, including one inside an encoded word at any
depth (a word whose decoded form, or the decoded form of a word inside that, holds a break is
rewritten with spaces): whatever decodes the header later, however many times, meets no line
break.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.charset
import email.header
import quopri
import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import Policy

# Every character Python's str.splitlines() breaks at: any of them may end a header line for
# some reader.
LINE_BREAKS = re.compile("[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([^?\s]*)\?([^?\s]*)\?=")
MAX_DEPTH = 5  # encoded words inside encoded words, as deep as anyone decodes
_UTF8 = email.charset.Charset("utf-8")
# Printable ASCII without the space: what an address or a Message-ID is made of.
_TOKEN = re.compile(r"[!-~]+")


class HeaderValue(str):
    """A header the library stores as given and asks to `fold` when the message is written.

    The email policy treats any object with a `name` and a `fold` method as an already parsed
    header, so the value is never run through the header parser (which would decode it).
    """

    name: str
    encoded: bool  # free text (encoded as needed) or ASCII tokens written as they are
    separator: str  # between tokens, where a long header may be folded

    def __new__(cls, value: str, *, encode: bool, separator: str = " ") -> HeaderValue:
        made = super().__new__(cls, value)
        made.name = ""
        made.encoded = encode
        made.separator = separator
        return made

    # The library reads these of a stored header.
    defects: tuple[object, ...] = ()

    def fold(self, *, policy: Policy) -> str:
        linesep = policy.linesep
        width = policy.max_line_length or 78
        if self.encoded:
            charset = "us-ascii" if _plain(str(self)) else "utf-8"
            header = email.header.Header(str(self), charset, header_name=self.name)
            body = header.encode(linesep=linesep, maxlinelen=width)
        else:
            body = _fold_tokens(self.name, str(self).split(self.separator), self.separator, width)
            body = body.replace("\n", linesep)
        return f"{self.name}: {body}{linesep}"


def text(value: str) -> HeaderValue:
    """`value` as free text for a header (a subject): one line, encoded words kept literal."""
    return HeaderValue(flatten(value), encode=True)


def structured(tokens: Sequence[str], separator: str = " ") -> HeaderValue:
    """Addresses or Message-IDs, written as they are: each must be printable ASCII with no
    encoded word in it (the caller has checked its syntax)."""
    for token in tokens:
        if not _TOKEN.fullmatch(token) or "=?" in token:
            raise ValueError("a header token must be printable ASCII, without an encoded word")
    return HeaderValue(separator.join(tokens), encode=False, separator=separator)


def set_header(message: EmailMessage, name: str, value: HeaderValue) -> None:
    """Set (replace) header `name` to `value`, stored as it is."""
    value.name = name
    del message[name]
    message[name] = value


def flatten(value: str, depth: int = 0) -> str:
    """`value` on one line: every line break a space, in the text and in the decoded form of
    any encoded word in it; runs of whitespace become one space."""
    value = LINE_BREAKS.sub(" ", value)
    if "=?" in value:
        value = ENCODED_WORD.sub(lambda word: _defused(word, depth), value)
    return " ".join(value.split())


def _defused(word: re.Match[str], depth: int) -> str:
    """The encoded word as it was, unless some decoded form of it breaks a line: then its
    text with spaces for the breaks, encoded again (so it still reads as it was typed)."""
    if depth >= MAX_DEPTH:  # deeper than anyone decodes: no longer an encoded word
        return word[0].replace("=?", "= ?")
    readings = _readings(word)
    if not any(_breaks(reading, depth + 1) for reading in readings):
        return word[0]
    return _UTF8.header_encode(flatten(readings[0], depth + 1))


def _breaks(value: str, depth: int) -> bool:
    """Whether `value`, or any decoded form of an encoded word in it, holds a line break."""
    if LINE_BREAKS.search(value):
        return True
    words = list(ENCODED_WORD.finditer(value))
    if depth >= MAX_DEPTH:
        return bool(words)
    return any(_breaks(reading, depth + 1) for word in words for reading in _readings(word))


def _readings(word: re.Match[str]) -> list[str]:
    """The text of an encoded word as its charset gives it, and as Latin-1 (every byte one
    character: how a lenient reader decodes an unknown charset, so no break can hide)."""
    charset, encoding, payload = word[1].split("*")[0], word[2].lower(), word[3]
    try:
        if encoding == "q":
            raw = quopri.decodestring(payload.replace("_", " ").encode("ascii"), header=True)
        elif encoding == "b":
            raw = base64.b64decode(payload + "=" * (-len(payload) % 4))
        else:
            return []
    except (binascii.Error, ValueError):
        return []
    readings = [raw.decode("latin-1")]
    with contextlib.suppress(LookupError):  # an unknown charset: Latin-1 only
        readings.insert(0, raw.decode(charset, errors="replace"))
    return readings


def _plain(value: str) -> bool:
    """Text a reader takes as it is: ASCII, with nothing that looks like an encoded word."""
    return value.isascii() and "=?" not in value


def _fold_tokens(name: str, tokens: list[str], separator: str, width: int) -> str:
    """Tokens joined by `separator`, a new line (starting with a space) before a token that
    would pass `width`; a token is never split."""
    lines: list[str] = []
    line = ""
    used = len(name) + 2
    for token in tokens:
        piece = f"{line}{separator}{token}" if line else token
        if line and used + len(piece) > width:
            lines.append(line + separator.rstrip())
            line, used = token, 1
        else:
            line = piece
    lines.append(line)
    return "\n ".join(lines)
