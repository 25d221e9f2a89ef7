"""Topic names said word for word in a question (knowledge/names.py), on invented topics: which
names count, which one wins where two overlap, and when a name is what is asked about. The
rules that use them are tested through replies in tests/test_decision.py."""

from __future__ import annotations

from knowledge.entries import Topic
from knowledge.names import TopicNames


def topic(topic_id: str, title: str, *aliases: str) -> Topic:
    return Topic(topic_id, title, "An answer.", (), aliases, (), ())


NAMES = TopicNames(
    [
        topic("gizmo-panel", "Gizmo panel (GP)", "gizmo panel"),
        topic("national-gizmo-review", "National gizmo reviews", "national gizmo review"),
        # "panel" is among the commonest English words; "sprocket" is not
        topic("panels", "Panels", "panel"),
        topic("sprockets", "Sprockets", "sprocket"),
        # a title's brackets may list other topics' subjects: their own names win
        topic("other-reviews", "Other reviews (gizmo panels, sprocket audits)"),
        topic("sprocket-audits", "Sprocket audits", "sprocket audit"),
    ]
)


def said(text: str) -> list[tuple[str, bool]]:
    return [(n.topic, n.asked_about) for n in NAMES.said(text, text.lower())]


def test_a_name_said_inside_a_longer_message_is_found() -> None:
    assert said("our new starter asked about the gizmo panel at lunch") == [("gizmo-panel", False)]


def test_what_is_before_a_name_makes_it_what_is_asked_about() -> None:
    assert said("whats a gizmo panel? the sprocket team keep mentioning it") == [
        ("gizmo-panel", True),
        ("sprockets", False),
    ]
    assert said("what does the gizmo panel do") == [("gizmo-panel", True)]
    assert said("what exactly is a gizmo panel") == [("gizmo-panel", True)]
    assert said("what actually counts as a gizmo panel now") == [("gizmo-panel", True)]
    # "what does X say about Y" asks about Y, not X
    assert said("what does the gizmo panel say about sprockets") == [
        ("gizmo-panel", False),
        ("sprockets", False),
    ]


def test_of_two_overlapping_names_the_one_ending_later_wins() -> None:
    # "national gizmo review" and "gizmo panel" overlap: as long, the later end is the head
    assert [t for t, _ in said("what does the national gizmo panel do")] == ["gizmo-panel"]


def test_an_ordinary_word_names_a_topic_only_with_its_capital_or_as_an_acronym() -> None:
    assert said("the panel met and a sprocket broke") == [("sprockets", False)]
    assert said("she was referred to the Panel last week") == [("panels", False)]
    assert said("what is a GP") == [("gizmo-panel", True)]


def test_a_topics_own_name_wins_over_another_titles_brackets() -> None:
    assert said("what is a sprocket audit") == [("sprocket-audits", True)]
    assert said("what is a gizmo panel") == [("gizmo-panel", True)]
