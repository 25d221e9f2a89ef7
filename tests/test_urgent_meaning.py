"""The second opinion by meaning: where the phrase rules find no concern but the message
carries a sign of one, the nearest examples decide (knowledge/urgent_meaning.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.validation import KnowledgeError
from knowledge.loader import load_knowledge
from knowledge.semantic import model_future, prepare
from knowledge.urgent import UrgentDetector, load_urgent
from tests.conftest import Chat

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"

# Concerns told in words no rule foresees (from tests/eval/urgent_fresh.txt).
UNFORESEEN = [
    "toddler at the door of the flats in just a nappy at 10pm",
    "the 6 yr old keeps saying mummy forgets to feed her",
]
# Knowledge questions that carry a sign of a concern but no knowledge framing.
KNOWLEDGE_QUESTIONS = [
    "impact of domestic violence on kids",
    "child j exec summary",
    "recommend a good childminder",
]


@pytest.fixture(scope="module")
def detector() -> UrgentDetector:
    return load_knowledge(KNOWLEDGE).urgent


@pytest.mark.parametrize("text", UNFORESEEN)
async def test_a_concern_the_rules_miss_gets_the_route_by_meaning(
    detector: UrgentDetector, text: str
) -> None:
    assert detector.match(text) is None  # the rules alone miss it
    kind = await detector.screen(text)
    assert kind is not None and kind.id == "situation"


@pytest.mark.parametrize("text", KNOWLEDGE_QUESTIONS)
async def test_a_knowledge_question_with_a_signal_is_left_alone(
    detector: UrgentDetector, text: str
) -> None:
    assert await detector.screen(text) is None


async def test_no_second_opinion_without_a_signal_or_with_knowledge_framing(
    detector: UrgentDetector,
) -> None:
    assert not detector.unsure("who won the football")  # no sign of a concern at all
    assert not detector.unsure("what is a toddler at the door in a nappy")  # framed as knowledge
    assert detector.unsure(UNFORESEEN[0])


async def test_without_the_semantic_section_the_rules_alone_decide(tmp_path: Path) -> None:
    shutil.copy(KNOWLEDGE / "urgent_examples.yaml", tmp_path)
    text = (KNOWLEDGE / "urgent.yaml").read_text(encoding="utf-8")
    (tmp_path / "urgent.yaml").write_text(text.split("\nsemantic:")[0], encoding="utf-8")
    rules_only = load_urgent(tmp_path)
    assert rules_only.meaning is None
    assert await rules_only.screen(UNFORESEEN[0]) is None


def test_a_bad_semantic_section_is_refused_naming_the_field(tmp_path: Path) -> None:
    text = (KNOWLEDGE / "urgent.yaml").read_text(encoding="utf-8")
    text = text.replace("  kind: situation", "  kind: nosuch").replace("margin: 0.06", "margin: 3")
    (tmp_path / "urgent.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "urgent_examples.yaml").write_text("live: []\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as error:
        load_urgent(tmp_path)
    problems = "\n".join(error.value.problems)
    assert "semantic" in problems and "kind" in problems and "margin" in problems
    assert "urgent_examples.yaml" in problems and "knowledge" in problems


async def test_a_message_is_embedded_once_for_the_screen_and_the_matcher(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message with a sign of a concern is embedded for the second opinion, then answered
    by the matcher, which needs the same vector: the model is asked once. The next message
    is embedded afresh (nothing is kept from one message to the next)."""
    knowledge = chat.assistant.conversation.knowledge
    assert knowledge.urgent.meaning is not None
    await knowledge.semantic.ready()
    await knowledge.urgent.meaning.ready()
    model = model_future().result()
    embedded: list[str] = []
    embed = model.embed

    def counting(texts: list[str], norm: bool = True) -> object:
        embedded.extend(texts)
        return embed(texts, norm=norm)

    monkeypatch.setattr(model, "embed", counting)
    text = KNOWLEDGE_QUESTIONS[0]  # a signal ("kids"), no knowledge framing, then matched
    assert knowledge.urgent.unsure(text)
    await chat.say(text)
    assert chat.replies[0].kind != "urgent"
    assert embedded == [prepare(text)]
    await chat.say(text)
    assert embedded == [prepare(text)] * 2
