"""The one rule for an email address and the one rule for a phone number.

The registry (`check`), sign-in, the notification form and the mailer all ask here, so an
address one of them accepts is never refused by another (a registered officer whose address the
mailer refuses could never sign in). Each function returns the problem as a sentence for the
person who typed the value, or None when it is fine.
"""

from __future__ import annotations

import re

EXAMPLE_EMAIL = "name@agency.gov.uk"
EXAMPLE_PHONE = "01234 567890"

_PHONE_CHARS = re.compile(r"^\+?[0-9\s().\-]+$")


def _valid(address: str) -> bool:
    # Syntax only: no DNS lookups (nothing may reach the network at run time, and the code email
    # is the real test of an address). No SMTPUTF8: every mail server must accept it as written.
    # Imported here: compiling its patterns is a twentieth of `ask`, which checks no address.
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return False
    return True


def email_problem(value: str) -> str | None:
    """What is wrong with `value` as one email address mail can be sent to, or None."""
    value = value.strip()
    example = f"Please type it like {EXAMPLE_EMAIL}."
    if any(c.isspace() for c in value):
        return f"An email address has no spaces. {example}"
    if value.count("@") != 1:
        return f"An email address has exactly one @. {example}"
    local = value.split("@")[0]
    # "=?" starts an RFC 2047 encoded word, which mail software decodes (into line breaks, a
    # second header...). The syntax allows it; no real mailbox has one.
    if "=?" not in local and _valid(value):
        return None
    if not local or "=?" in local or not _valid(f"{local}@example.org"):
        return (
            "The part before the @ can have letters, digits and . _ - + (no commas or "
            f"brackets, and no dot at either end). {example}"
        )
    return f"The part after the @ should be a domain such as agency.gov.uk. {example}"


def is_email(value: str) -> bool:
    return email_problem(value) is None


def phone_problem(value: str) -> str | None:
    """What is wrong with `value` as a UK phone number (0 or +44, 10 or 11 digits), or None."""
    value = " ".join(value.split())
    if not _PHONE_CHARS.match(value):
        return (
            "A phone number can only have digits, spaces and a leading +, for example "
            f"{EXAMPLE_PHONE}."
        )
    digits = re.sub(r"[\s().\-]", "", value)
    if digits.startswith("+44") or digits.startswith("0044"):
        rest = digits[3:] if digits.startswith("+") else digits[4:]
        national = "0" + rest.removeprefix("0")  # "+44 (0)1234 ..." writes the 0 in brackets
    elif digits.startswith("+"):
        return "Please give a UK number, starting with 0 or +44."
    elif digits.startswith("0"):
        national = digits
    else:
        return f"A UK number starts with 0 (or +44), for example {EXAMPLE_PHONE}."
    if not 10 <= len(national) <= 11:
        return (
            f"That number has {len(national)} digits; a UK number has 10 or 11, counting "
            "the first 0. Please check it."
        )
    return None
