"""Free questions reach the right topic however they are phrased, and nothing else does.

Table-driven through the conversation core, so each row checks what the user gets (kind and
entry), not the matcher's internals.
"""

from __future__ import annotations

import pytest

from knowledge.decision import has_safeguarding_sign
from knowledge.passages import sentences
from knowledge.query import is_request
from knowledge.search import SearchEntry, SearchIndex
from tests.conftest import Chat

TOPIC_PHRASINGS: dict[str, list[str]] = {
    "review-types": ["what types of review are there", "review types", "Which kinds of reviews?"],
    "serious-case-review": [
        "what is an SCR",
        "What's a serious case review?",
        "can you tell me what a serous case review is please",
        "SCR",
        "when did SCRs stop?",
    ],
    "child-death-review": ["what is a child death review", "CDOP", "what's the cdop?"],
    "below-threshold-review": ["review below the threshold", "below threshold review"],
    "practice-audit": ["what is a practice audit", "audit of practice"],
    "individual-management-review": ["what's an IMR", "individual managment review"],
    "significant-incident-learning-process": [
        "what's a SILP?",
        "significant incident learning process",
        "Tell me about SILP please",
    ],
    "significant-incident-notification": [
        "what is a significant incident notification",
        "what's a SIN?",
    ],
    "liaison-officer": ["who is the SLO", "liaison officer", "What does an SLO do?"],
    "notifiable-incident": [
        "what is a notifiable incident",
        "notifiable incidents",
        "how long do we have to notify the panel",
    ],
    "serious-harm": ["what does serious harm mean", "definition of serious harm"],
    "working-together": ["what is working together", "WT2023", "what's WT?"],
    "safeguarding-practice-review": [
        "what is a LCSPR",
        "local child safeguarding practice review",
        "what's an lcspr?",
    ],
    "rapid-review": ["what is a rapid review", "rapid review timescale", "RAPID REVIEW?!"],
    "national-panel": ["what is the national panel", "child safeguarding practice review panel"],
    "disrespect-nobody": ["what is disrespect nobody", "what is Disrespect NoBody?"],
    "escalation": ["how do I escalate a disagreement with social care", "escalation procedure"],
    "information-sharing": ["can I share a concern without the parents' consent"],
    "taking-part-in-a-review": ["what happens at a practitioner learning event"],
    "early-help": ["what's early help?", "continuum of need"],
    "child-exploitation": ["what is county lines", "child criminal exploitation"],
    "neglect": ["signs of neglect", "GCP2"],
    "domestic-abuse": ["Operation Encompass", "child witnessing domestic violence"],
    "missing-children": ["return home interview", "children missing from care guidance"],
    "other-statutory-reviews": ["what reviews are there for adults"],
    "safeguarding-adults-review": ["safeguarding adults review for young adults"],
    "domestic-abuse-related-death-review": ["what is a DHR"],
    "deaths-in-settings": ["child died in a young offender institution"],
}

OUT_OF_SCOPE = [
    "report a pothole",
    "council tax",
    "what time is it",
    "bin collection days",
    "parking permit",
    "how do I apply for a school place",
    "weather tomorrow",
    "asdfghjkl",
    "1234",
]

CASES = [(entry_id, text) for entry_id, texts in TOPIC_PHRASINGS.items() for text in texts]


@pytest.mark.parametrize(("entry_id", "text"), CASES)
async def test_phrasing_reaches_topic(chat: Chat, entry_id: str, text: str) -> None:
    replies = await chat.say(text)
    assert (replies[0].kind, replies[0].id) == ("answer", entry_id)
    topic = chat.assistant.knowledge.topics[entry_id]
    assert replies[0].title == topic.title
    # The topic's answer, led by its answer to what the question asks when it asks one.
    said = (topic.answer, *sentences(topic), *(c.say for c in topic.checks))
    assert replies[0].text.startswith(said)
    assert [link.url for link in replies[0].links] == [s.url for s in topic.sources]


@pytest.mark.parametrize("text", OUT_OF_SCOPE)
async def test_out_of_scope_gets_fallback(chat: Chat, text: str) -> None:
    replies = await chat.say(text)
    assert replies[0].kind == "fallback"
    assert replies[0].id in (None, "decline:other")  # no topic (declined: counted as such)
    assert "/help" in replies[0].text or any(b.data == "/help" for b in replies[0].buttons)


async def test_fallback_question_is_stored_for_the_board(chat: Chat) -> None:
    await chat.say("how do I apply for a school place")
    stored = await chat.assistant.storage.questions.unanswered()
    assert [q for q, _ in stored] == ["how do I apply for a school place"]


async def test_answered_question_is_not_stored(chat: Chat) -> None:
    await chat.say("what is an SCR")
    assert await chat.assistant.storage.questions.unanswered() == []


async def test_a_likely_topic_is_answered_with_the_document_as_a_runner_up(chat: Chat) -> None:
    """The campaign and its materials share a name: the topic is answered, and the materials
    are one press away."""
    replies = await chat.say("disrespect nobody")
    assert (replies[0].kind, replies[0].id) == ("answer", "disrespect-nobody")
    await chat.press("Not what you meant?")
    assert (chat.replies[0].kind, chat.replies[0].id) == ("report", "disrespect-nobody-materials")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("is the notification confidential", "privacy"),
        ("is this chat private?", "privacy"),
        ("how do I get hold of the review reports", "groups"),
    ],
)
async def test_questions_about_the_assistant_itself_run_its_information_commands(
    chat: Chat, text: str, kind: str
) -> None:
    replies = await chat.say(text)
    assert replies[0].kind == kind


@pytest.mark.parametrize("text", ["help", "what can you do?", "Can you help me", "menu", "?"])
async def test_asking_for_help(chat: Chat, text: str) -> None:
    replies = await chat.say(text)
    assert replies[0].kind == "help"
    assert "/reports" in replies[0].text
    assert await chat.assistant.storage.questions.unanswered() == []


@pytest.mark.parametrize(
    "text",
    [
        "is this serious enough for a review?",
        "should we notify?",
        "Does this meet the SCR threshold",
        "how does the threshold check work",
    ],
)
async def test_threshold_questions_offer_the_check(chat: Chat, text: str) -> None:
    """A question about the check is answered; the check starts from the button."""
    replies = await chat.say(text)
    assert (replies[0].kind, replies[0].id) == ("answer", "start-threshold-check")
    assert "yes-or-no questions" in replies[0].text
    await chat.press("Start the threshold check")
    assert chat.replies[0].kind == "threshold-intro"
    assert [b.label for b in chat.replies[-1].buttons][:3] == ["Yes", "No", "Not sure"]


@pytest.mark.parametrize(
    "text", ["start the threshold check", "I want to check the threshold for my case"]
)
async def test_asking_for_the_check_starts_it(chat: Chat, text: str) -> None:
    replies = await chat.say(text)
    assert replies[0].kind == "threshold-intro"


@pytest.mark.parametrize(
    "text",
    [
        "who can submit a significant incident notification",
        "who can send a notification to the board?",
    ],
)
async def test_questions_about_the_notification_do_not_start_it(chat: Chat, text: str) -> None:
    """Answered (the liaison officer sends it), not the sign-in that starts the form."""
    replies = await chat.say(text)
    assert replies[0].kind == "answer"
    assert "liaison officer" in replies[0].text.lower()


@pytest.mark.parametrize("text", ["I want to notify", "I need to report a significant incident"])
async def test_asking_to_notify_starts_the_sign_in(chat: Chat, text: str) -> None:
    replies = await chat.say(text)
    assert replies[0].kind == "signin_email"


@pytest.mark.parametrize("text", ["hello", "Hi there!", "good morning"])
async def test_greetings(chat: Chat, text: str) -> None:
    replies = await chat.say(text)
    assert replies[0].kind == "greeting"


@pytest.mark.parametrize(
    "text",
    [
        "thanks!",
        "thank you",
        "Cheers",
        "thanks that's really helpful",
        "ok got it, thanks",
        "brilliant, thank you so much for your help",
        "that's useful",
    ],
)
async def test_thanks(chat: Chat, text: str) -> None:
    replies = await chat.say(text)
    assert replies[0].kind == "greeting"
    assert "welcome" in replies[0].text


async def test_thanks_with_a_question_is_the_question(chat: Chat) -> None:
    replies = await chat.say("thanks, and what is a rapid review?")
    assert (replies[0].kind, replies[0].id) == ("answer", "rapid-review")


async def test_scr_answer_is_right_for_today(chat: Chat) -> None:
    """The SCR answer gives the 2015 criteria and the route since 2018-2019."""
    text = (await chat.say("what is an SCR"))[0].text.lower()
    assert "abuse or neglect" in text
    assert "5 working days" in text
    assert "15 working days" in text
    assert "rapid review" in text
    assert "local child safeguarding practice review" in text


async def test_related_topics_are_buttons(chat: Chat) -> None:
    await chat.say("what is a rapid review")
    related = chat.assistant.knowledge.topics["rapid-review"].related
    # "More" comes first (the rest of this answer), then the related topics.
    assert [b.data for b in chat.buttons] == [
        "/topic rapid-review more",
        *(f"/topic {r}" for r in related),
    ]
    await chat.press(chat.buttons[1].label)
    assert chat.replies[0].id == related[0]


async def test_a_clear_lead_is_answered_with_a_way_to_the_others(chat: Chat) -> None:
    """Under the usual bar, but far nearer one topic than any other, in a question about a
    child's safety: answered, with "Not what you meant?"."""
    replies = await chat.say("tips for listening to a disclosure without leading questions")
    assert (replies[0].kind, replies[0].id) == ("answer", "responding-to-disclosure")
    assert any(b.label.startswith("Not what you meant?") for b in replies[0].buttons)


@pytest.mark.parametrize(
    "text", ["annual leave policy", "serious case of flu", "case of the missing stapler"]
)
async def test_a_clear_lead_without_a_safeguarding_word_is_refused(chat: Chat, text: str) -> None:
    replies = await chat.say(text)
    assert replies[0].kind == "fallback"


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("can i promise confidentiality to a child", True),
        ("who runs the partnership", True),
        ("staff appraisal review", False),
        ("serious case of flu", False),
    ],
)
def test_safeguarding_sign(text: str, sign: bool) -> None:
    assert has_safeguarding_sign(text) is sign


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("i want to understand the sin notification", False),
        ("i need to know who decides", False),
        ("how quickly should they decide and let me know", False),
        ("I want to notify", True),
        ("i need to check the threshold", True),
    ],
)
def test_wanting_to_know_is_not_a_request(text: str, asks: bool) -> None:
    assert is_request(text) is asks


async def test_a_report_name_with_a_kind_word_links_the_report(chat: Chat) -> None:
    """The word "scr" names a topic too, but "pelka" names the one report in full (an alias)."""
    for text in ("pelka scr", "could you send me the pelka scr please"):
        replies = await chat.say(text)
        assert (replies[0].kind, replies[0].id) == ("report", "daniel-pelka")


async def test_a_short_common_word_like_a_name_offers_no_report(chat: Chat) -> None:
    """The word "broken" is one letter from "Brooke": no "did you mean Operation Brooke?"."""
    replies = await chat.say("report a broken streetlight")
    assert replies[0].kind == "fallback"
    assert not replies[0].ids


def test_an_alias_in_full_makes_a_name_specific() -> None:
    """The title's rarest word ("daniel") is missing, but the alias "pelka" is there in full."""
    index = SearchIndex(
        [
            SearchEntry("pelka", "full report", ("Serious case review - Daniel Pelka", "pelka")),
            SearchEntry("scr", "topic", ("Serious case review", "what is an scr")),
        ]
    )
    found = index.search("pelka scr")
    assert found.decision == "answer" and found.best is not None and found.best.id == "pelka"


def test_an_ordinal_in_digits_is_its_word() -> None:
    """ "2nd" is "second": split as typed, an unknown "nd" would weigh against every name."""
    index = SearchIndex(
        [
            SearchEntry("second", "full report", ("Second review of the gizmo works",)),
            SearchEntry("first", "full report", ("First review of the gizmo works",)),
        ]
    )
    found = index.search("gizmo works 2nd review")
    assert found.decision == "answer" and found.best is not None and found.best.id == "second"


def test_a_name_written_as_it_sounds_is_found() -> None:
    """ "Pelker" for "Pelka": an "-er" and an "-a" sound alike; a short word is left alone."""
    index = SearchIndex(
        [
            SearchEntry("pelka", "full report", ("Serious case review - Daniel Pelka", "pelka")),
            SearchEntry("eva", "full report", ("Review of Eva",)),
        ]
    )
    found = index.search("danial pelker review pls")
    assert found.decision == "answer" and found.best is not None and found.best.id == "pelka"
    assert index.search("ever").best is None


def test_shorthand_with_an_ampersand_is_its_words() -> None:
    """ "c&f" is "child and family": split as typed, it would be two letters that say nothing."""
    index = SearchIndex([SearchEntry("cf", "topic", ("Child and family assessment",))])
    found = index.search("c&f assessment")
    assert found.decision == "answer" and found.best is not None and found.best.id == "cf"


async def test_a_topic_as_near_as_the_conversation_is_answered_with_it_one_button_away(
    chat: Chat,
) -> None:
    """A question about what the notification is for gets the topic, and a button to start."""
    replies = await chat.say("who decides whether to send a sin")
    assert (replies[0].kind, replies[0].id) == ("answer", "significant-incident-notification")
    assert "/notify" in [b.data for b in replies[0].buttons]


async def test_a_tie_on_the_nearest_line_is_broken_by_the_nearer_lines(chat: Chat) -> None:
    """Tied on their best lines, the topic with several lines near is answered, and the
    other is one button away, rather than a menu."""
    replies = await chat.say("what happened to the local safeguarding board")
    assert (replies[0].kind, replies[0].id) == ("answer", "lscb")
    labels = [b.label for b in replies[0].buttons]
    assert any(label.startswith("Not what you meant?") for label in labels), labels


async def test_punctuation_said_aloud_to_dictation_is_read_as_the_marks(chat: Chat) -> None:
    from knowledge.query import spoken_punctuation

    said = "hi comma what is a silp and who runs it question mark"
    assert spoken_punctuation(said) == "hi, what is a silp and who runs it?"
    replies = await chat.say("the difference between an lscb comma a silp and a rapid review")
    assert len(replies[0].ids) == 3
