"""Within one message, a search of the same text is worked out once; between messages, and
outside one, afresh (knowledge/per_message.py)."""

from __future__ import annotations

from knowledge.per_message import once, one_message


class Counter:
    def __init__(self) -> None:
        self.made = 0

    def make(self) -> list[int]:
        self.made += 1
        return [self.made]


def test_one_message_works_each_thing_out_once() -> None:
    index = Counter()
    with one_message():
        first = once(index, "search", "what is an scr", index.make)
        again = once(index, "search", "what is an scr", index.make)
        other_text = once(index, "search", "pelka", index.make)
        other_kind = once(index, "scores", "what is an scr", index.make)
    assert first is again and first == [1]
    assert other_text == [2] and other_kind == [3]


def test_nothing_is_kept_from_one_message_to_the_next() -> None:
    index = Counter()
    with one_message():
        assert once(index, "search", "pelka", index.make) == [1]
    with one_message():
        assert once(index, "search", "pelka", index.make) == [2]
    # Outside a message (eval, `check`): every call works it out.
    assert once(index, "search", "pelka", index.make) == [3]
    assert once(index, "search", "pelka", index.make) == [4]


def test_another_index_is_not_given_the_first_ones_answer() -> None:
    # After /reload the new knowledge's index answers from its own names.
    old, new = Counter(), Counter()
    new.made = 10
    with one_message():
        assert once(old, "search", "pelka", old.make) == [1]
        assert once(new, "search", "pelka", new.make) == [11]
