"""What the handling of one message works out more than once, worked out once.

Deciding one question asks the same things several times: the name matcher searches the
question's text for the decision and again for the review it may name (learning_ask), the
meaning of the corrected text is scored against every entry by the ranking, the rule on
declining and the rule on named topics, and the safety screen and the matcher embed the same
words. Each is a pure function of its owner (an index, a model) and a text, so within one
message the first answer is kept and given again (`once`). Nothing is kept from one message
to the next: `one_message()` begins with an empty store and drops it at its end, so a
/reload between messages, or a question asked twice, is worked out afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

# (id of the owner, what, text) -> (the owner, the result). The owner is kept beside its result
# so an id reused by another object (the first freed mid-message) never finds the first's.
_kept: ContextVar[dict[tuple[int, str, str], tuple[object, Any]] | None] = ContextVar(
    "per_message", default=None
)


@contextmanager
def one_message() -> Iterator[None]:
    """Within this block (one message), `once` works each thing out once."""
    token = _kept.set({})
    try:
        yield
    finally:
        _kept.reset(token)


def once(owner: object, what: str, text: str, make: Callable[[], T]) -> T:
    """`make()`, the result of `owner`'s `what` for `text`, or what it gave earlier in this
    message. Outside `one_message()`, simply `make()`. Callers must not change the result."""
    kept = _kept.get()
    if kept is None:
        return make()
    key = (id(owner), what, text)
    found = kept.get(key)
    if found is not None and found[0] is owner:
        result: T = found[1]
        return result
    made = make()
    kept[key] = (owner, made)
    return made
