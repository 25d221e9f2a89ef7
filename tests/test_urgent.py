"""The urgent-concern route: a live concern gets the safety route before anything else.

The detector is tested against the shared practice list (both parts), every non-urgent practice
question, and a wider list of realistic messages (tests/data/urgent_cases.yaml); its mechanics
against small fixture files. The route is tested as a user sees it: in free chat, inside the
threshold check, inside the notification form (never screened), /urgent, /start, the fallback,
and `main.py ask --json`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest

from bot.assistant import Assistant
from config.settings import Contact, Settings
from config.validation import KnowledgeError
from knowledge.loader import load_knowledge
from knowledge.urgent import GroupPhrases, is_urgent, load_urgent, message_words
from tests import cli, yaml_support
from tests.conftest import Chat
from tests.telegram_support import TelegramHarness, buttons_of
from tests.test_notification import reach, signed_in

ROOT = Path(__file__).resolve().parent.parent
SHARED_EVAL = Path("/work/shared/eval")
CASES = yaml_support.load((Path(__file__).parent / "data" / "urgent_cases.yaml").read_text())

# The shared practice list: part 1 must get the safety route, part 2 must not. A copy is kept
# here so the tests do not depend on a folder outside the repository.
PRACTICE_URGENT = [
    "I'm worried about a child",
    "a child is in immediate danger what should I do",
    "a 7 year old just told me her stepdad hits her, what do I do",
    "one of my pupils says her mum's boyfriend touches her",
    "how do I make a referral to children's social care",
    "a baby came in with bruises and the story doesn't add up",
    "allegation against a teacher at my school",
    "a colleague has been accused of hurting a child",
    "a 14 year old hasn't come home and isn't answering his phone",
    "I think a boy is being used to sell drugs",
    "child has told me she is scared to go home tonight",
    "what do I do if I suspect abuse",
    "there is a child at risk right now",
    "mum is drunk and the kids are alone",
    "he said his dad burnt him with a cigarette",
    "worried about neglect of a toddler i visit",
]
PRACTICE_NOT_URGENT = [
    "what is a serious case review",
    "pelka report",
    "what is a rapid review",
    "how long do we have to notify the panel",
    "what does the LADO stand for",
    "what is a SILP",
    "briefing for patrick",
    "what types of review are there",
]
# Practice questions (questions.yaml) that are live concerns, so the safety route is right for
# them; its "More" leads to the topic they expect, and the reply carries that topic's id.
LIVE_PRACTICE_QUESTIONS = {
    "a child is in danger right now": "immediate-risk",
    "how do I refer a child to social care in bedford": "immediate-risk",
    "I'm worried about a child what should I do": "immediate-risk",
    "make a referral": "immediate-risk",
    "a pupil has disclosed abuse to me": "responding-to-disclosure",
    "allegation against a member of staff": "lado",
    "a foster carer has been accused of hitting a child": "lado",
}
PRACTICE_QUESTIONS = ROOT / "tests" / "data" / "practice_questions.yaml"  # shared/eval copy


def practice_questions() -> list[str]:
    data = yaml_support.load(PRACTICE_QUESTIONS.read_text(encoding="utf-8"))
    return [item["q"] for section in data.values() for item in section]


# --- the detector -------------------------------------------------------------------------------


def test_the_practice_list_is_the_shared_one() -> None:
    shared = SHARED_EVAL / "urgent.txt"
    if not shared.exists():
        pytest.skip("shared practice list not on this machine")
    parts: list[list[str]] = []
    for line in shared.read_text(encoding="utf-8").splitlines():
        if line.startswith("# Part"):
            parts.append([])
        elif line.strip() and not line.startswith("#"):
            parts[-1].append(line.strip())
    assert parts == [PRACTICE_URGENT, PRACTICE_NOT_URGENT]


@pytest.mark.parametrize("text", PRACTICE_URGENT)
def test_practice_live_concerns_are_urgent(text: str) -> None:
    assert is_urgent(text) is not None


@pytest.mark.parametrize("text", PRACTICE_NOT_URGENT)
def test_practice_knowledge_questions_are_not_urgent(text: str) -> None:
    assert is_urgent(text) is None


def test_no_practice_question_is_urgent_unless_it_is_a_live_concern() -> None:
    questions = practice_questions()
    assert len(questions) >= 150
    fired = {q for q in questions if is_urgent(q)}
    assert fired == set(LIVE_PRACTICE_QUESTIONS)


@pytest.mark.parametrize("case", CASES["urgent"], ids=lambda c: c["text"][:40])
def test_realistic_live_concerns_are_urgent(case: dict[str, str]) -> None:
    kind = is_urgent(case["text"])
    assert kind is not None
    if "lead" in case:
        assert kind == case["lead"]


@pytest.mark.parametrize("text", CASES["not_urgent"])
def test_realistic_knowledge_questions_are_not_urgent(text: str) -> None:
    assert is_urgent(text) is None


def test_lead_kinds() -> None:
    assert is_urgent("allegation against a teacher at my school") == "allegation"
    assert is_urgent("a 14 year old hasn't come home and isn't answering his phone") == "missing"
    assert is_urgent("a child is in immediate danger what should I do") == "danger"
    assert is_urgent("he said his dad burnt him with a cigarette") == "disclosure"


FIXTURE = """
groups:
  child: [child, <number> year old]
  harm: [hit*, burnt]
  told: [told me, says|said]
  question: [what is]
  live: [told me]
kinds:
  - id: disclosure
    lead: front_door
    more: [immediate-risk]
    advice: Listen.
    rules:
      - [told, harm]
  - id: concern
    lead: front_door
    more: [immediate-risk]
    rules:
      - [child, harm]
framing:
  knowledge: [question]
  live: [live]
"""


def write_fixture(tmp_path: Path, text: str) -> Path:
    (tmp_path / "urgent.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_rule_mechanics_on_a_fixture(tmp_path: Path) -> None:
    detector = load_urgent(write_fixture(tmp_path, FIXTURE))
    assert detector.match("she said he hits her") is not None
    assert detector.match("she said he hits her").id == "disclosure"  # type: ignore[union-attr]
    assert detector.match("a 9 year old was hit").id == "concern"  # type: ignore[union-attr]
    assert detector.match("a child was seen") is None  # one group is not a rule
    assert detector.match("it was hitting the news") is None
    # framed as a knowledge question: not urgent, unless a sign of a real case is there too
    assert detector.match("what is a child hit") is None
    assert detector.match("what is this, a child told me he was hit") is not None
    assert detector.match("") is None


def test_searching_only_the_groups_a_word_can_begin_changes_nothing() -> None:
    """The detector searches a message only for the groups one of its words can begin
    (`Starts`); searching every group must give the same kinds and the same second-opinion
    question, on every practice message and on phrases cut at prefixes, numbers and
    alternatives."""
    detector = load_urgent()
    assert detector.starts is not None
    every_group = dataclasses.replace(detector, starts=None)
    messages = [
        *PRACTICE_URGENT,
        *(case["text"] for case in CASES["urgent"]),
        *CASES["not_urgent"],
        "a 14 year old hasnt come home",
        "my 3yo is bruised",  # a number glued to letters is two words
        "teenagers bruising",
        "he hit her",
        "hits",
        "",
    ]
    for text in messages:
        assert detector.kinds_of(text) == every_group.kinds_of(text), text
        assert detector.present(text) == every_group.present(text), text
        assert detector.unsure(text) == every_group.unsure(text), text
    # The shortcut really skips groups: a message with no word of the lists searches none.
    assert detector.starts.candidates(["pothole", "council"]) == {}


def reference_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """The definition of a group's phrases as one regular expression over the message's words
    joined by single spaces (what the detector once compiled): `word*` a prefix, `<number>`
    any number, `a|b` either, on word boundaries."""

    def word(alternative: str) -> str:
        if alternative == "<number>":
            return r"\d+"
        if alternative.endswith("*"):
            return re.escape(alternative[:-1]) + "[a-z0-9]*"
        return re.escape(alternative)

    alternatives = "|".join(
        " ".join("(?:" + "|".join(map(word, part.split("|"))) + ")" for part in phrase.split())
        for phrase in phrases
    )
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives or '(?!)'})(?![a-z0-9])")


def test_phrases_are_found_where_their_regular_expression_finds_them() -> None:
    """Every group of the shipped list, on the practice messages and on each phrase written
    out (every alternative, prefixes lengthened, numbers), whole, cut short, run into other
    words and glued to them: found exactly where the regular expression finds it."""
    detector = load_urgent()
    assert isinstance(detector.groups, GroupPhrases)
    groups = detector.groups.phrases
    messages = [*PRACTICE_URGENT, *(c["text"] for c in CASES["urgent"]), *CASES["not_urgent"]]
    for phrases in groups.values():
        for n, phrase in enumerate(phrases[::3]):  # a third of them keeps the test quick
            parts = [part.split("|") for part in phrase.split()]
            pick = n % 3
            ending = "ing" if pick else ""
            words = [alts[pick % len(alts)].replace("*", ending) for alts in parts]
            text = " ".join(words).replace("<number>", "12")
            messages += [text, f"then {text} now", " ".join(words[:-1]), f"{text}x", f"x{text}"]
    patterns = {name: reference_pattern(phrases) for name, phrases in groups.items()}
    found = 0
    for text in messages:
        said = message_words(text)
        joined = " ".join(said)
        for name, pattern in patterns.items():
            expected = pattern.search(joined) is not None
            assert detector.groups[name].search(said, range(len(said))) == expected, (name, text)
            found += expected
    assert found > len(messages)  # most written-out phrases are found, by their group at least


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("lead: front_door", "lead: switchboard"), "disclosure: lead: expected a contact key"),
        (("[told, harm]", "[told, hurt]"), "disclosure: rules[1]: -: unknown group 'hurt'"),
        (("[hit*, burnt]", '[hit*, "mum\'s"]'), 'groups.harm: -: phrase "mum\'s"'),
        (("harm: [hit*, burnt]", "harm: []"), "groups.harm: -: expected a non-empty list"),
        (("    advice: Listen.\n", "    advice: " + "x" * 201 + "\n"), "advice: expected one"),
        (("  live: [live]", "  live: [nothing]"), "framing.live: -: unknown group 'nothing'"),
    ],
)
def test_invalid_urgent_file_is_refused_naming_the_entry(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in FIXTURE
    with pytest.raises(KnowledgeError) as error:
        load_urgent(write_fixture(tmp_path, FIXTURE.replace(old, new)))
    assert any(p.startswith("urgent.yaml: ") and message in p for p in error.value.problems), (
        error.value.problems
    )


def test_check_names_a_broken_urgent_file(tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge, ignore=shutil.ignore_patterns("*.py", "__*"))
    text = (knowledge / "urgent.yaml").read_text(encoding="utf-8")
    (knowledge / "urgent.yaml").write_text(text.replace("lead: lado", "lead: nobody"), "utf-8")
    with pytest.raises(KnowledgeError) as error:
        load_knowledge(knowledge)
    assert "urgent.yaml: allegation: lead: expected a contact key" in error.value.problems[0]


# --- the route, as a user sees it ---------------------------------------------------------------


def lines(chat: Chat) -> list[str]:
    return chat.replies[0].text.splitlines()


async def test_a_live_concern_gets_the_safety_route_at_once(chat: Chat) -> None:
    replies = await chat.say("a 7 year old just told me her stepdad hits her, what do I do")
    assert replies[0].kind == "urgent"
    assert replies[0].id == "responding-to-disclosure"
    first, second = lines(chat)[:2]
    assert first == "In immediate danger: call 999 now."
    assert second.startswith(
        "Worried about a child, or to make a referral: children's services, 01234 223599"
    )
    text = replies[0].text
    assert "0300 300 8123" in text  # out of hours
    assert "police, 101" in text
    assert "the LADO" in text
    assert "designated safeguarding lead" in text
    assert "promise to keep it secret" in text  # what to do with a disclosure
    assert "to be confirmed by the partnership" in text  # the shipped numbers are examples
    assert len(text) <= 700
    await chat.press("More")
    assert chat.replies[0].id == "responding-to-disclosure"
    assert chat.replies[0].kind == "answer"


async def test_a_question_asked_with_a_live_concern_is_answered_after_the_route(
    chat: Chat,
) -> None:
    """A live concern that is also a question about a subject ("is that neglect") gets the route
    first, the subject's topic as a button beside "More", and then the answer to the question;
    the route's own topic is not offered twice, and a concern that only tells gets the route."""
    await chat.say("child always hungry and dirty clothes, is that neglect")
    route, answer = chat.replies
    assert route.kind == "urgent" and lines(chat)[0] == "In immediate danger: call 999 now."
    about = [b for b in route.buttons if b.label.startswith("About: ")]
    assert len(about) == 1 and route.buttons[0].label == "More"
    topic = about[0].data.removeprefix("/topic ")
    assert topic != route.id and route.ids == (topic,)
    assert (answer.kind, answer.id) == ("answer", topic)
    await chat.press("About: ")
    assert (chat.replies[0].kind, chat.replies[0].id) == ("answer", topic)
    await chat.say("a 7 year old just told me her stepdad hits her")
    assert [r.kind for r in chat.replies] == ["urgent"]
    await chat.say("a 7 year old just told me her stepdad hits her, what do I do")
    datas = [b.data for b in chat.buttons]
    assert datas.count(f"/topic {chat.replies[0].id}") == 1  # "More" only, not again


async def test_an_allegation_leads_with_the_lado_after_999(chat: Chat) -> None:
    await chat.say("a colleague has been accused of hurting a child")
    first, second = lines(chat)[:2]
    assert "999" in first
    assert second.startswith("An allegation against someone who works with children: the LADO")
    assert chat.replies[0].id == "lado"
    assert "Do not investigate or warn the person" in chat.replies[0].text


async def test_live_practice_questions_carry_the_topic_they_expect(chat: Chat) -> None:
    for text, topic in LIVE_PRACTICE_QUESTIONS.items():
        replies = await chat.say(text)
        assert (replies[0].kind, replies[0].id) == ("urgent", topic), text


def test_a_topic_naming_an_unknown_contact_is_refused(tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge, ignore=shutil.ignore_patterns("*.py", "__*"))
    text = (knowledge / "topics.yaml").read_text(encoding="utf-8")
    (knowledge / "topics.yaml").write_text(text.replace("contacts: [lado]", "contacts: [mash]"))
    with pytest.raises(KnowledgeError) as error:
        load_knowledge(knowledge)
    assert error.value.problems == [
        "topics.yaml: lado: contacts: unknown contact 'mash' (one of: emergency, front_door, "
        "out_of_hours, police, lado, partnership)"
    ]


async def test_a_missing_child_leads_with_the_police(chat: Chat) -> None:
    await chat.say("a 14 year old hasn't come home and isn't answering his phone")
    assert lines(chat)[1].startswith("A crime or a missing child, not an emergency: police, 101")


async def test_a_live_concern_is_never_stored(chat: Chat) -> None:
    for text in PRACTICE_URGENT:
        replies = await chat.say(text)
        assert replies[0].kind == "urgent", text
    assert await chat.assistant.storage.questions.unanswered() == []


async def test_all_contacts_shows_the_whole_route(chat: Chat) -> None:
    await chat.say("I'm worried about a child")
    await chat.press("All contacts")
    text = chat.text
    assert "call 999 now" in text
    for detail in ("01234 223599", "0300 300 8123", "101", "01234 276693", "lado@bedford.gov.uk"):
        assert detail in text
    assert "designated safeguarding lead" in text
    assert {b.label for b in chat.buttons} >= {
        "A child at risk now - what to do and how to refer",
        "The LADO and allegations against staff",
    }


async def test_configured_contacts_replace_the_examples(assistant: Assistant) -> None:
    settings = assistant.settings
    front = Contact(name="Front door", phone="01111 000000", hours="9 to 5", confirmed=True)
    edt = Contact(name="EDT", phone="02222 000000", confirmed=True)
    contacts = dataclasses.replace(settings.contacts, front_door=front, out_of_hours=edt)
    assistant.conversation.settings = dataclasses.replace(settings, contacts=contacts)
    chat = Chat(assistant)
    await chat.say("there is a child at risk right now")
    text = chat.replies[0].text
    assert "01111 000000" in text and "02222 000000" in text
    assert "01234 223599" not in text
    await chat.say("/start")
    assert "children's services on 01111 000000 (out of hours 02222 000000)." in chat.text


async def test_a_knowledge_question_is_answered_as_usual(chat: Chat) -> None:
    replies = await chat.say("what does the LADO stand for")
    assert replies[0].kind == "answer"
    assert replies[0].id == "lado"
    assert "01234 276693" in replies[0].text  # the topic lists its contact from the settings


async def test_start_and_the_fallback_end_with_the_safety_line(chat: Chat) -> None:
    await chat.say("/start")
    last_line = chat.replies[-1].text.splitlines()[-1]
    assert last_line.startswith("A child at risk? In immediate danger call 999")
    assert last_line.endswith("Type /urgent for who to call.")
    await chat.say("how tall is the eiffel tower")
    assert chat.replies[0].kind == "fallback"
    assert chat.replies[0].text.splitlines()[-1] == last_line
    assert "without names or other personal details" in chat.replies[0].text
    await chat.press("A child may be at risk")
    assert chat.replies[0].kind == "urgent"
    await chat.say("send me the report about the new leisure centre")  # a document we lack
    assert chat.replies[0].kind == "fallback"
    assert chat.replies[0].text.splitlines()[-1] == last_line


async def test_urgent_is_in_the_menu(chat: Chat) -> None:
    await chat.say("/help")
    assert "/urgent - a child may be at risk: who to call" in chat.text


# --- inside flows -------------------------------------------------------------------------------


async def test_in_the_threshold_check_the_route_comes_first_then_the_check_carries_on(
    chat: Chat,
) -> None:
    await chat.say("/threshold")
    question = chat.replies[-1]
    await chat.say("a child told me her dad hits her")
    kinds = [r.kind for r in chat.replies]
    assert kinds == ["urgent", "threshold-resume", "threshold-question"]
    assert chat.replies[-1].id == question.id
    await chat.press("No")  # the check carries on from the same question
    assert chat.replies[-1].kind in ("threshold-question", "threshold-outcome")
    assert chat.replies[-1].id != question.id


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    from tests.form_fixture import with_fixture_form

    # The small fixture form: these tests are about the route, not the shipped form's fields.
    return with_fixture_form(settings, tmp_path)


async def test_in_the_form_an_answer_is_never_taken_for_a_new_concern(
    assistant: Assistant,
) -> None:
    await signed_in(assistant, "test:form")
    slo = Chat(assistant, "test:form")
    await reach(slo, "summary")
    await slo.say("A 7 year old told me her stepdad hits her; bruises on her arms, seen by GP.")
    assert all(r.kind != "urgent" for r in slo.replies), slo.text
    assert slo.replies[-1].kind == "question"
    assert slo.replies[-1].id != "summary"  # the answer was taken, the next question asked


async def test_in_the_form_help_carries_the_safety_route(assistant: Assistant) -> None:
    await signed_in(assistant, "test:form")
    slo = Chat(assistant, "test:form")
    await reach(slo, "summary")
    await slo.say("help")
    assert "It is not a referral" in slo.replies[0].text
    assert "In immediate danger call 999" in slo.replies[0].text
    assert slo.replies[-1].kind == "question" and slo.replies[-1].id == "summary"


# --- the command line ---------------------------------------------------------------------------


def test_ask_json_gives_kind_urgent_with_the_999_line(tmp_path: Path) -> None:
    result = cli.run_main(
        tmp_path, "ask", "--json", "-", stdin="\n".join([*PRACTICE_URGENT, *PRACTICE_NOT_URGENT])
    )
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == len(PRACTICE_URGENT) + len(PRACTICE_NOT_URGENT)
    for answer in answers[: len(PRACTICE_URGENT)]:
        assert answer["kind"] == "urgent"
        assert "In immediate danger: call 999 now." in answer["text"]
    for answer in answers[len(PRACTICE_URGENT) :]:
        assert answer["kind"] != "urgent"
        assert "call 999 now" not in answer["text"]


def test_check_warns_about_every_unconfirmed_contact(tmp_path: Path) -> None:
    result = cli.run_main(tmp_path, "check")
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: settings: ")]
    assert [w.split(":")[2].strip() for w in warned] == [
        "contacts.front_door",
        "contacts.out_of_hours",
        "contacts.lado",
        "contacts.partnership",
    ]
    confirmed = "contacts:\n" + "".join(
        f"  {key}:\n    phone: '01234 000000'\n    confirmed: true\n"
        for key in ("front_door", "out_of_hours", "lado", "partnership")
    )
    result = cli.run_main(tmp_path, "check", settings=confirmed)
    assert result.returncode == 0, result.stderr
    assert "contacts." not in result.stderr


def test_no_phrase_is_cut_short_by_a_comment() -> None:
    """YAML reads `- year # ...` as "year": a phrase must never carry a comment."""
    for number, line in enumerate((ROOT / "knowledge" / "urgent.yaml").read_text().splitlines()):
        if line.lstrip().startswith("- "):
            assert " #" not in line, f"urgent.yaml line {number + 1}: {line.strip()}"


# --- Telegram ---------------------------------------------------------------------------------


async def test_in_telegram_the_route_arrives_first_with_its_buttons(
    telegram: TelegramHarness,
) -> None:
    sent = await telegram.send_text(31, "allegation against a teacher at my school")
    assert len(sent) == 1
    text = sent[0]["text"]
    assert text.startswith("<b>If a child may be at risk</b>")
    lines = text.splitlines()
    assert lines[1] == "In immediate danger: call 999 now."
    assert "the LADO" in lines[2]
    labels = [b["text"] for b in buttons_of(sent[0])]
    assert "More" in labels and "All contacts" in labels
    more = next(b["callback_data"] for b in buttons_of(sent[0]) if b["text"] == "More")
    detail = await telegram.press(31, more)
    assert detail[0]["text"].startswith("<b>The LADO and allegations against staff")
    await telegram.app.bot_data["channel"].post_init(telegram.app)
    menu = telegram.api.method_calls("setMyCommands")[-1]["commands"]
    assert menu[0]["command"] == "urgent"  # the first entry of Telegram's command menu


# --- the route, by rule: settled frames, medical emergencies, adults --------------------------

ROUTE_FIXTURE = """
groups:
  child: [child, baby]
  medical: [floppy, not breathing]
  worry: [worried]
  own_worry: [blamed]
  past_process: [last week]
  process_ask: [do we tell]
  harm: [hurt]
  knowledge_frame: [what is]
  live: [right now]
kinds:
  - id: medical
    advice: Call 999 and ask for an ambulance.
    lead: emergency
    more: [immediate-risk]
    rules: [[medical, child]]
  - id: concern
    lead: front_door
    more: [immediate-risk]
    rules: [[worry, child], [harm, child]]
framing:
  knowledge: [knowledge_frame]
  live: [live]
  settled: [[own_worry], [past_process, process_ask]]
"""


def test_settled_frames_are_never_live_even_with_a_live_sign(tmp_path: Path) -> None:
    detector = load_urgent(write_fixture(tmp_path, ROUTE_FIXTURE))
    assert detector.match("the baby is floppy").id == "medical"  # type: ignore[union-attr]
    assert detector.match("worried about a child") is not None
    # a worry about oneself, even "right now"
    assert detector.match("worried I'll be blamed for the child right now") is None
    # something past and in hand, asked about the process that follows
    assert detector.match("a child was hurt last week, do we tell the office") is None
    assert detector.settled("a child was hurt last week, do we tell the office")
    # past alone is not settled: it may still be a child at risk
    assert detector.match("a child was hurt last week") is not None
    assert not detector.settled("what is a hurt child")


def test_a_settled_rule_can_need_a_group_absent(tmp_path: Path) -> None:
    fixture = (
        ROUTE_FIXTURE.replace(
            "  live: [right now]\n", "  live: [right now]\n  age: [<number> year old]\n"
        )
        .replace(
            "  process_ask: [do we tell]\n",
            "  process_ask: [do we tell]\n  review_ask: [notify the panel]\n",
        )
        .replace(
            "rules: [[worry, child], [harm, child]]",
            "rules: [[worry, child], [harm, child], [harm, age]]",
        )
        .replace("  live: [live]\n", "  live: [live, age]\n")
        .replace(
            "[past_process, process_ask]]", "[past_process, process_ask], [review_ask, -live]]"
        )
    )
    detector = load_urgent(write_fixture(tmp_path, fixture))
    # An age alone does not outrank a question about the review process...
    assert detector.match("a 15 year old was hurt, do we notify the panel") is None
    assert detector.settled("a 15 year old was hurt, do we notify the panel")
    # ...but a sign of now does, and an age with no such question is a live concern.
    assert detector.match("a 15 year old is hurt right now, do we notify the panel") is not None
    assert detector.match("a 15 year old was hurt") is not None
    broken = fixture.replace("[review_ask, -live]", "[review_ask, -nothing_like_it]")
    with pytest.raises(KnowledgeError) as caught:
        load_urgent(write_fixture(tmp_path, broken))
    assert "unknown group 'nothing_like_it'" in caught.value.problems[0]


def test_settled_rules_name_known_groups(tmp_path: Path) -> None:
    broken = ROUTE_FIXTURE.replace("[[own_worry], ", "[[nothing_like_it], ")
    with pytest.raises(KnowledgeError) as caught:
        load_urgent(write_fixture(tmp_path, broken))
    assert "framing.settled[1]: -: unknown group 'nothing_like_it'" in caught.value.problems[0]


@pytest.mark.parametrize(
    "text",
    [
        "the baby is floppy and not responding, what do I do",
        "a boy in my class has collapsed and is fitting",
        "year 9 girl says she has taken a load of paracetamol",
    ],
)
async def test_a_child_unwell_now_gets_999_and_an_ambulance_first(chat: Chat, text: str) -> None:
    replies = await chat.say(text)
    lines = replies[0].text.splitlines()
    assert replies[0].kind == "urgent"
    assert lines[0].startswith("In immediate danger: call 999")
    assert "ambulance" in lines[1]
    assert "child-death" not in (replies[0].id or "")


@pytest.mark.parametrize(
    "text",
    [
        "I'm worried I'll be blamed in the case review",
        "early help - how do I refer a family who want support with routines",
    ],
)
async def test_a_worry_about_oneself_or_early_help_is_not_the_emergency_route(
    chat: Chat, text: str
) -> None:
    replies = await chat.say(text)
    assert replies[0].kind != "urgent"


async def test_a_process_question_about_past_harm_gets_its_answer_and_one_safety_line(
    chat: Chat,
) -> None:
    replies = await chat.say(
        "a child at our nursery was injured last week and social care know, do we need to tell "
        "ofsted"
    )
    assert replies[0].kind != "urgent"
    assert [r.kind for r in replies].count("safety-line") == 1
    assert replies[-1].text.startswith("A child at risk? In immediate danger call 999")


async def test_an_adults_matter_skips_the_route_and_is_redirected(chat: Chat) -> None:
    replies = await chat.say("my 80 year old neighbour is being neglected by her carer")
    assert replies[0].kind == "fallback" and "adult social care" in replies[0].text


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("a volunteer at our youth club grabbed a child by the neck", "allegation"),
        ("the taxi driver who takes a pupil to school made sexual comments to her", "allegation"),
        ("a parent at the school gate slapped her son", "disclosure"),
        ("my neighbour hits his kids", "disclosure"),
    ],
)
def test_the_lado_leads_only_when_the_person_works_or_volunteers_with_children(
    text: str, kind: str
) -> None:
    assert is_urgent(text) == kind
