"""The decision's mechanics (knowledge/query.py, knowledge/decision.py, knowledge/passages.py),
on invented topics (tests/fixtures/decision/), so that the shipped content can change freely:

- the facet asked (how long, who, what happens next, how) is the reply's first sentence;
- a yes/no question leads with the yes or no of the check that fits, and is never a menu;
- a comparison is written as one: the pair's note, or their facets side by side; "is X the same
  as Y" starts with no;
- the topics' own text finds a topic none of whose names has the question's words;
- a first reply's body stays within FIRST_REPLY_MAX, the rest behind More;
- what is not ours (casework, an adult's matter, the office) is declined, never a topic;
- a document is never linked on a name a topic shares; `ask --json --why` says why."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import build_assistant
from bot.assistant import Assistant
from config.settings import Settings
from config.validation import Problems
from knowledge.decision import _a_meeting, _agreed_on, _named_by_its_proper_name
from knowledge.decline import Decline, load_decline
from knowledge.loader import FIRST_REPLY_MAX
from knowledge.query import facet_of, read_query, report_years
from tests.cli import run_main
from tests.conftest import Chat, fixture_settings_file, on_fixture_knowledge

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def decision_knowledge(tmp_path: Path) -> Path:
    """The small fixture knowledge with the decision's invented topics, reports and examples."""
    target = tmp_path / "knowledge"
    if not target.exists():
        shutil.copytree(FIXTURES / "small_knowledge", target)
        for name in ("topics", "reports", "decline", "learning"):
            shutil.copyfile(FIXTURES / "decision" / f"{name}.yaml", target / f"{name}.yaml")
    return target


@pytest.fixture
async def assistant(settings: Settings, tmp_path: Path) -> AsyncIterator[Assistant]:
    knowledge = decision_knowledge(tmp_path)
    built = await build_assistant(on_fixture_knowledge(settings, knowledge, tmp_path))
    yield built
    await built.close()


def first_sentence(text: str) -> str:
    return text.split("\n\n", 1)[0]


# --- the facet asked ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("annual report 23/24", "annual report 2023 to 2024"),
        ("the 2022-23 report", "the 2022 to 2023 report"),
        ("report of 2019/2020", "report of 2019 to 2020"),
        ("a 14/15 year old's report", "a 14/15 year old's report"),  # not a span of years
        ("cover 23/24 hours", "cover 23/24 hours"),  # no report: not read as years
    ],
)
def test_a_span_of_years_is_read_as_titles_write_it(text: str, read: str) -> None:
    assert report_years(text) == read


@pytest.mark.parametrize(
    ("text", "facet"),
    [
        ("how many days does a widget review take", "when"),
        ("widget review, by when must it be done?", "when"),
        ("widget reviews, what are the timescales", "when"),
        ("how much notice do the partners need before a widget review", "when"),
        ("when do parents hear about a widget review", "when"),
        ("when did widget reviews start", "when"),
        ("widget review timescale?", "when"),
        ("what's the timeframe for a widget review", "when"),
        ("max time for a widget review", "when"),
        ("who holds a widget review", "who"),
        ("what happens after a widget review", "next"),
        ("we held a widget review, what's next", "next"),
        ("whats the next stage after a widget review", "next"),
        ("how do I ask for a widget review", "how"),
        ("how does a school ask for a widget review", "how"),  # a setting doing it
        ("how does a widget review work", ""),  # what it is: its opening says
        ("does a widget review happen if nobody was hurt", "yesno"),
        # a story, a dash, then the question; a condition, then the question
        ("a widget broke at the plant today - does that need a widget review", "yesno"),
        ("if a widget breaks with nobody hurt is there a widget review", "yesno"),
        # a question before the dash is the one asked
        ("who holds a widget review - is it the chair", "who"),
        ("who holds a widget review, can it be the lab?", "who"),  # the second only narrows
        ("widget review - what is it", ""),
        ("what is a widget review", "what"),
        ("widget review", ""),
    ],
)
def test_the_facet_is_read_from_the_question(text: str, facet: str) -> None:
    assert facet_of(text) == facet


@pytest.mark.parametrize(
    ("text", "facet"),
    [
        ("how long does a widget review take?", "when"),
        ("I'm new here - who holds a widget review?", "who"),
        ("what happens after a widget review", "next"),
        ("we held a widget review, what's next", "next"),
        ("whats the next stage after a widget review", "next"),
        ("how do I ask for a widget review", "how"),
    ],
)
async def test_the_answer_to_the_facet_asked_comes_first(chat: Chat, text: str, facet: str) -> None:
    replies = await chat.say(text)
    topic = chat.assistant.knowledge.topics["widget-review"]
    assert (replies[0].kind, replies[0].id) == ("answer", "widget-review")
    assert first_sentence(replies[0].text) == topic.facet(facet)
    assert "widget partners hold it after a failure" in replies[0].text  # the answer follows


async def test_what_it_is_is_the_topics_own_opening(chat: Chat) -> None:
    replies = await chat.say("what is a widget review")
    topic = chat.assistant.knowledge.topics["widget-review"]
    assert replies[0].text == topic.answer


async def test_a_facet_asked_of_one_part_of_a_topic_leads_with_that_part(chat: Chat) -> None:
    # The topic's own "when" is about the review; the question is about its log.
    replies = await chat.say("how often is the widget log checked")
    assert replies[0].id == "widget-review"
    assert first_sentence(replies[0].text) == "The widget log is checked every 30 days."


async def test_a_facet_the_topic_lacks_leads_with_its_sentence_that_fits(chat: Chat) -> None:
    replies = await chat.say("how long are flange test results kept")
    assert replies[0].id == "flange-testing"
    assert first_sentence(replies[0].text) == "Results are kept for seven years."


async def test_a_story_that_ends_in_a_short_question_is_answered_on_the_question(
    chat: Chat,
) -> None:
    # The story's words outweigh the question's; the question alone decides.
    story = "a child was badly hurt on the stairs at the garden centre on saturday morning"
    assert (await chat.say(story))[0].kind == "fallback"
    replies = await chat.say(f"{story}, who holds a widget review")
    assert (replies[0].kind, replies[0].id) == ("answer", "widget-review")
    topic = chat.assistant.knowledge.topics["widget-review"]
    assert first_sentence(replies[0].text) == topic.facet("who")
    # A story of no child's harm is not read for its last clause (one that does not name the
    # topic word for word: a name said is its own rule, below).
    other = "the printer on the third floor jammed again and nobody has fixed it in weeks"
    closing = "who holds the reviews of failed widgets"
    assert (await chat.say(f"{story}, {closing}"))[0].id == "widget-review"
    assert (await chat.say(f"{other}, {closing}"))[0].kind == "fallback"


# --- a topic's name said word for word ------------------------------------------------------


async def test_what_is_a_name_is_that_topic_whatever_else_the_message_names(chat: Chat) -> None:
    # The rest of the message is nearer in meaning to another topic.
    message = "whats a gizmo panel? the sprocket audit team say the sprocket audit needs one"
    replies = await chat.say(message)
    assert (replies[0].kind, replies[0].id) == ("answer", "gizmo-panel")
    topic = chat.assistant.knowledge.topics["gizmo-panel"]
    assert first_sentence(replies[0].text) == first_sentence(topic.answer)


CHATTY = (
    "our new starter kept asking me over a long lunch in the canteen yesterday about the {}, "
    "I honestly could not tell her much about how it works or who sits on it"
)


async def test_a_message_nothing_else_answers_is_answered_by_the_topic_it_names(
    chat: Chat,
) -> None:
    assert (await chat.say(CHATTY.format("thing upstairs and its yearly reports")))[0].kind == (
        "fallback"
    )
    replies = await chat.say(CHATTY.format("gizmo panel and its yearly reports"))
    assert (replies[0].kind, replies[0].id) == ("answer", "gizmo-panel")
    assert "Not what you meant?" in replies[0].text or replies[0].buttons  # a guess
    # A particular review by a topic's name is a document not found, never the topic.
    missing = await chat.say(CHATTY.format("Brampton gizmo panel review from 2019"))
    assert missing[0].id != "gizmo-panel"


# --- yes or no ------------------------------------------------------------------------------


async def test_a_yes_no_question_leads_with_the_check_that_fits(chat: Chat) -> None:
    # by its words: the answer first
    replies = await chat.say("does a widget review happen if nobody was hurt?")
    assert replies[0].id == "widget-review"
    assert replies[0].text.startswith("No. A widget review follows only a failure")
    # by its meaning only: its own question in front, to show which question the no answers
    replies = await chat.say("do we still have a widget review if no one got hurt?")
    assert replies[0].text.startswith(
        "Does a widget review happen if nobody was hurt? No. A widget review follows only"
    )


async def test_a_check_less_near_but_clearly_nearest_leads_with_its_own_question(
    chat: Chat,
) -> None:
    # Near enough to the check on harm, and far nearer than to the one on blame: answered, with
    # the check's question in front so the reader sees what the "No" answers.
    text = "if a widget broke but no one got injured, do the partners still hold a widget review?"
    replies = await chat.say(text)
    assert replies[0].text.startswith(
        "Does a widget review happen if nobody was hurt? No. A widget review follows only"
    )


async def test_a_check_whose_every_word_the_story_has_leads_with_its_own_question(
    chat: Chat,
) -> None:
    # The story around it takes the question far from the check in meaning, but every word of
    # the check is there.
    text = (
        "our lab tested a flange batch on friday and the supplier is cross, the quality team "
        "found faults in the log too, nobody was hurt though - does a widget review happen?"
    )
    replies = await chat.say(text)
    assert replies[0].text.startswith(
        "Does a widget review happen if nobody was hurt? No. A widget review follows only"
    )


async def test_a_check_all_of_whose_words_are_asked_less_its_light_verb_leads(chat: Chat) -> None:
    # "make a referral" is asked as "refer"; the check is clearly the nearest in meaning, if not
    # near in itself: answered, with its own question in front.
    text = (
        "sprocket audit: do i need the quality teams consent to refer if i think a batch is failing"
    )
    replies = await chat.say(text)
    assert replies[0].id == "sprocket-audit"
    assert replies[0].text.startswith(
        "Do I need the quality team's consent to make a referral? Not always."
    )


async def test_two_names_of_one_topic_compared_get_its_check_on_them(chat: Chat) -> None:
    replies = await chat.say("is flange testing the same as batch proofing?")
    assert replies[0].id == "flange-testing"
    assert replies[0].text.startswith("No. Batch proofing is the one part of flange testing")
    # a comparison the check does not make gets no "No" of its: the opening comes instead
    replies = await chat.say("how is flange testing different from the old way")
    assert not replies[0].text.startswith("No.")


async def test_a_check_sharing_only_some_words_puts_no_yes_or_no_in_its_mouth(chat: Chat) -> None:
    # "does a widget review happen ..." is the start of the check on harm, but the question is
    # about weekends: its "No" would be a wrong answer, so the topic's opening comes instead.
    replies = await chat.say("does a widget review happen on weekends")
    assert replies[0].id == "widget-review"
    assert not replies[0].text.startswith(("No.", "Yes.", "Does a widget"))


async def test_a_check_asked_in_other_words_leads_without_its_yes_or_no(chat: Chat) -> None:
    replies = await chat.say("widget reviews and blaming the people who made them")
    assert replies[0].id == "widget-review"
    assert first_sentence(replies[0].text) == (
        "It looks at how the system worked, not at who is to blame."
    )


async def test_a_yes_no_question_between_near_topics_goes_to_the_check_that_fits(
    chat: Chat,
) -> None:
    # The sprocket audit is a little nearer by its names, but only the widget review has a
    # check that answers this: its yes or no is the answer, the audit one tap away.
    replies = await chat.say("does a widget review follow a failed sprocket audit?")
    assert replies[0].id == "widget-review"
    assert "No. A failed audit goes to the board" in first_sentence(replies[0].text)
    assert any("Not what you meant" in b.label for b in replies[0].buttons)


async def test_a_yes_no_question_is_never_a_menu(chat: Chat) -> None:
    # Both topics are equally near; a menu would be the answer to "which one?", not to "is it".
    replies = await chat.say("is it a widget review or a sprocket audit that runs every quarter")
    assert replies[0].kind == "answer"
    assert any("Not what you meant" in b.label for b in replies[0].buttons) or replies[0].id


# --- comparisons ----------------------------------------------------------------------------


async def test_a_comparison_asked_after_a_dash_compares_only_the_two(chat: Chat) -> None:
    # what follows the dash is not part of the second thing compared ("CIN vs CP - what's the
    # actual difference")
    replies = await chat.say("widget review vs sprocket audit - our flange testing lab asks")
    assert replies[0].ids == ("widget-review", "sprocket-audit")
    assert "The difference: " in replies[0].text


async def test_a_comparison_gives_the_difference(chat: Chat) -> None:
    replies = await chat.say("what's the difference between a widget review and a sprocket audit")
    knowledge = chat.assistant.knowledge
    assert replies[0].ids == ("widget-review", "sprocket-audit")
    note = knowledge.comparison("widget-review", "sprocket-audit")
    assert f"The difference: {note}" in replies[0].text
    assert "Widget review: " in replies[0].text and "Sprocket audit: " in replies[0].text


async def test_is_x_the_same_as_y_is_answered_no_first(chat: Chat) -> None:
    replies = await chat.say("is a widget review the same as a sprocket audit?")
    assert replies[0].text.startswith("No, they are not the same")


async def test_without_a_note_the_comparison_sets_their_facets_side_by_side(chat: Chat) -> None:
    replies = await chat.say("sprocket audit vs gizmo panel")
    text = replies[0].text
    assert replies[0].ids == ("sprocket-audit", "gizmo-panel")
    # Not two openings glued together: who, for each, on one line.
    assert "Who. Sprocket audit: The quality team runs the sprocket audit. Gizmo panel: The " \
        "minister appoints" in text  # fmt: skip


# --- the topics' own text, and the length of a first reply ----------------------------------


async def test_the_topics_own_text_finds_what_no_name_says(chat: Chat) -> None:
    replies = await chat.say("is a failed batch scrapped and the supplier told")
    assert replies[0].id == "flange-testing"


async def test_a_first_reply_stays_within_its_limit_and_the_rest_is_behind_more(
    chat: Chat, assistant: Assistant, tmp_path: Path
) -> None:
    for text in ("how long does a widget review take", "who holds a widget review"):
        replies = await chat.say(text)
        assert len(replies[0].text) <= FIRST_REPLY_MAX
    await chat.press("More")
    assert "gadget reviews in 2019" in chat.replies[0].text


# --- what is not ours -----------------------------------------------------------------------


async def test_an_adults_matter_is_declined_not_routed_as_urgent(chat: Chat) -> None:
    replies = await chat.say("my elderly neighbour is being neglected and I am worried")
    assert replies[0].kind == "fallback"
    assert "adult social care" in replies[0].text
    assert replies[0].id == "decline:adult"  # no topic: declined, as the charts count it


async def test_an_adults_review_asked_about_is_redirected_with_its_topic_a_tap_away(
    chat: Chat,
) -> None:
    replies = await chat.say("what is a bolt inspection")
    assert (replies[0].kind, replies[0].id) == ("fallback", "decline:adult-review")
    assert "safeguarding adults board" in replies[0].text
    assert "/topic bolt-inspection" in [b.data for b in replies[0].buttons]
    await chat.press("In general: Bolt inspection")
    assert chat.replies[0].id == "bolt-inspection"
    # beside a child, or the children's side (a review to compare), it is ours: answered
    for text in ("bolt inspection vs widget review", "a bolt inspection for a teenager"):
        replies = await chat.say(text)
        assert replies[0].kind != "fallback", text


async def test_one_case_told_is_casework_though_a_document_may_be_named(chat: Chat) -> None:
    # "the Baker family" is one case, whom no published review names: the review the rest of
    # the message half names is not asked about instead
    replies = await chat.say("is the Baker family in the harbour works review")
    assert replies[0].kind == "casework"


async def test_a_request_to_act_on_one_case_is_casework(chat: Chat) -> None:
    replies = await chat.say("please write the report about my customer for me")
    assert replies[0].kind == "casework"


async def test_what_a_named_thing_is_is_answered_though_the_story_is_near_casework(
    chat: Chat,
) -> None:
    # near the casework examples in meaning, but it asks what the sprocket audit it names is
    text = (
        "they are checking whether my customer has an open complaint in the sprocket audit, "
        "what does that mean"
    )
    replies = await chat.say(text)
    assert (replies[0].kind, replies[0].id) == ("answer", "sprocket-audit")


async def test_the_office_is_declined_and_kept_for_the_partnership(chat: Chat) -> None:
    replies = await chat.say("what's on the canteen menu today")
    assert replies[0].kind == "fallback" and replies[0].id == "decline:other"
    assert len(await chat.assistant.storage.questions.unanswered()) == 1


# --- documents ------------------------------------------------------------------------------


async def test_a_document_is_never_linked_on_a_name_a_topic_shares(chat: Chat) -> None:
    replies = await chat.say("flange testing review")
    # The topic shares "flange testing": the review is asked about, never linked on a guess.
    assert replies[0].kind in ("confirm", "choices", "report")
    if replies[0].kind == "report":
        assert replies[0].id == "flange-review-2020"
    assert all(link.url != "https://example.org/harbour" for link in replies[0].links)


# --- why ------------------------------------------------------------------------------------


def test_ask_json_why_prints_the_signals(tmp_path: Path) -> None:
    knowledge = decision_knowledge(tmp_path)
    result = run_main(
        tmp_path,
        "ask",
        "--json",
        "--why",
        "how long does a widget review take",
        settings=fixture_settings_file(knowledge, tmp_path),
    )
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout.splitlines()[-1])
    assert reply["id"] == "widget-review"
    why = "\n".join(reply["why"])
    assert "facet: when" in why and "outcome: answer widget-review" in why
    assert "lead: facet:when" in why and "fused: widget-review" in why


def test_why_needs_json(tmp_path: Path) -> None:
    result = run_main(tmp_path, "ask", "--why", "what is an scr")
    assert result.returncode == 2 and "--why goes with --json" in result.stderr


# --- two signals that agree -----------------------------------------------------------------


async def test_meaning_and_text_agree_only_when_each_puts_the_topic_clearly_first(
    assistant: Assistant,
) -> None:
    knowledge = assistant.knowledge
    query = read_query("is a failed batch scrapped and the supplier told", knowledge.index)
    text = knowledge.text.scores(query)
    best = max(text, key=lambda i: text[i])
    other = next(i for i in knowledge.topics if i != best)
    assert _agreed_on(knowledge, query, {best: 0.55, other: 0.3}, text) == {best}
    assert _agreed_on(knowledge, query, {best: 0.45, other: 0.3}, text) == set()  # too far
    assert _agreed_on(knowledge, query, {best: 0.55, other: 0.53}, text) == set()  # no lead
    assert _agreed_on(knowledge, query, {best: 0.55}, {**text, other: 0.95}) == set()  # text tie
    assert _agreed_on(knowledge, query, {other: 0.55, best: 0.3}, text) == set()  # they differ
    # a narrow lead in meaning is enough when the text puts it far ahead, in a question with a
    # sign of safeguarding
    worried = read_query("worried about a child: is a failed batch scrapped", knowledge.index)
    near, far = {best: 0.55, other: 0.53}, {best: 1.0, other: 0.7}
    assert _agreed_on(knowledge, worried, near, far) == {best}
    assert _agreed_on(knowledge, worried, near, {best: 1.0, other: 0.78}) == set()  # not far
    assert _agreed_on(knowledge, query, near, far) == set()  # no sign of safeguarding
    # the text's first, as near in meaning as the nearest topic all but, with the text's
    # runner-up well behind it
    close = {other: 0.58, best: 0.56}
    assert _agreed_on(knowledge, query, close, {best: 1.0, other: 0.82}) == {best}
    assert _agreed_on(knowledge, query, {other: 0.62, best: 0.54}, far) == set()  # not as near
    assert _agreed_on(knowledge, query, close, {best: 1.0, other: 0.9}) == set()  # text too close


def test_a_review_said_with_a_name_is_a_meeting_or_a_document() -> None:
    # "how often are CP review conferences": a meeting, so the name is asked about in general
    assert _a_meeting(("cp",), ("review", "conferences", "held"))
    assert _a_meeting(("widget", "review"), ("meetings",))
    # "Baby Tilly SCR", "the herts SCR where ...": a particular document
    assert not _a_meeting(("baby", "tilly"), ("scr",))
    assert not _a_meeting(("herts",), ("scr", "where"))


def test_every_age_said_counts_before_a_message_is_called_an_adults() -> None:
    decline = Decline()
    assert decline.adult_only("my 84 year old neighbour is being neglected")
    # a child's age anywhere makes it a child's matter, however it is written
    assert not decline.adult_only("15 yo told me she is pregnant by her 24 yr old boyfriend")
    assert not decline.adult_only("a 9 year old with her 30 year old mum's new partner")


def test_an_adults_son_or_daughter_is_an_adult(tmp_path: Path) -> None:
    (tmp_path / "decline.yaml").write_text(
        "classes:\n  adult:\n    signs: [adult social care]\n"
        "child_words: [child, children, son, daughter]\n",
        encoding="utf-8",
    )
    decline = load_decline(tmp_path, Problems())
    assert decline.adult_only("my 80 yr old neighbour thinks her son is taking her money")
    assert not decline.adult_only("my son is being bullied at school")  # no adult's age
    assert not decline.adult_only("an 80 year old's son and his children")  # a child too
    # children said to be absent are none; a child's age written "16 y/o" is a child's
    assert decline.adult_only("patient aged 45, abused by her husband, no children in the house")
    assert not decline.adult_only("patient aged 45, abused by her husband, her children at home")
    assert not decline.adult_only("16 y/o living with a 28 yo man who controls her money")


async def test_what_is_a_part_of_a_topic_leads_with_the_sentence_on_it(chat: Chat) -> None:
    # "What is X" where X is one part of a topic's text, not what the topic is: that part first.
    replies = await chat.say("what is the widget log")
    assert replies[0].id == "widget-review"
    assert first_sentence(replies[0].text).startswith("The widget log lists every failure")
    replies = await chat.say("what is a widget review")
    assert replies[0].text.startswith("A widget review looks again")  # what it is: the opening


async def test_a_document_is_named_by_a_proper_name_of_its_review_only(
    assistant: Assistant,
) -> None:
    knowledge = assistant.knowledge
    asked = read_query("the northern one, for the team", knowledge.index)
    assert _named_by_its_proper_name(knowledge, asked, "flange-review-2020")
    assert not _named_by_its_proper_name(knowledge, asked, "gadget-review-2015")
    both = read_query("the northern one or the gadget one", knowledge.index)
    assert not _named_by_its_proper_name(knowledge, both, "flange-review-2020")
