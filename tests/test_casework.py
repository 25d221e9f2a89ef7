"""Messages about one particular child or family (knowledge/casework.py): declined with who to
ask, the general topic one tap away, and never kept; general questions never caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.replies import CASEWORK
from config.settings import ROOT
from knowledge.casework import about_one_case
from knowledge.loader import load_knowledge
from tests import yaml_support
from tests.conftest import Chat

EVAL_SETS = sorted((Path(__file__).parent / "eval").glob("*.yaml"))
# Whether the knowledge base (national, and Bedford's pack) uses a word: "the pelka family" is
# a published case.
KNOWN = load_knowledge(
    ROOT / "knowledge", ROOT / "knowledge" / "partnerships" / "bedford-borough", semantic=False
).index.knows

ONE_CASE = [
    ("is mia on a child protection plan", "status"),
    ("Is Tyler Brown on the child protection register?", "status"),
    ("has he been referred to social care", "status"),
    ("is my child on a plan", "status"),
    ("is mia, on a plan?", "status"),  # punctuation between the words of a sign
    ("has jayden been referred", "status"),
    ("is this child known to social care", "status"),
    ("has jayden had his return home interview yet", "status"),
    ("is sophie still in foster care", "status"),
    ("when is the rapid review for baby k", "initial"),
    ("what did the core group decide about child b", "initial"),
    ("when is the core group for the jones children", "family"),
    ("is the baker boy still on a cp plan", "family"),
    ("what's the outcome of the section 47 on the Baker family", "family"),
    ("can you chair the strategy discussion tomorrow", "act"),
    ("could you ring the social worker for me", "act"),
    ("can you write the chronology for my imr", "act"),
    ("draft the s47 outcome letter for amira to send to her mum", "act"),
    ("please check the mash outcome for leah okafor and tell me", "result"),
    ("please send me jaydens chronology", "possessive"),
    ("write up the chronology from these health records", "act"),
    ("book me a room for the conference next week", "act"),
    ("what were the minutes from yesterday's core group", "result"),
    ("tell me about the outcome of the strategy meeting", "result"),
    ("when is mia's core group", "possessive"),
    ("who is jayden's social worker now", "possessive"),
    ("is the conference for ella still on, or was it amys conference", "possessive"),
    ("type up today's strategy meeting", "possessive"),
    ("what is the address of ellie brown's foster carer", "possessive"),
    ("can you give me kayden's date of birth", "possessive"),
    ("can you look up whether jayden smith moved to bedford", "lookup"),
    ("can you search for leah kowalski in your records", "lookup"),
    ("could you find out if tyler is known to social care", "lookup"),
    ("has the referral for amira been accepted", "progress"),
    ("is the conference for jayden still on", "progress"),
    ("was the assessment on kacper done in time", "progress"),
    ("did the lado ring back about mr jones", "titled"),
    ("is mrs okafor still the dsl", "titled"),
    # a first name the knowledge base uses (Daniel Pelka), then a surname it does not
    ("has anyone made a lado referral about mr daniel hargreaves", "titled"),
    ("what did the core group decide on monday", "decided"),
    ("what was agreed at the conference yesterday", "decided"),
    ("what did last week's ICPC decide about him", "decided"),
    ("is the morris baby still on a plan", "family"),
    ("read these case notes and tell me if the family meets the threshold", "records"),
    ("was there a review on baby Noah Price who died last year", "named"),
    ("what did the ICPC decide about Tyler Brown", "named"),
    ("should I close this case? mum is engaging better now", "decide"),
    ("3 kids, mum drinking again. should I close the case or step up to CP?", "decide"),
]
GENERAL = [
    "write a 7 minute briefing on neglect for my team",
    "what goes in a multi agency chronology",
    "check the outcome of a strategy discussion is recorded, how",
    "draft the learning from the rochdale review for our newsletter",
    "is a child on a cp plan allowed to go abroad",
    "is there a child protection register any more",
    "are children on plans visited every 10 days",
    "can you tell me a bit about strategy discussions",
    "can you email me the pelka report",
    "what support is there for the whole family",
    "the pelka family",
    "is the safeguarding children board still going",
    "phone number for childrens social care",
    "i have a core group tomorrow what should i bring",
    "the smith family review",  # a document, for the document finder
    "is social care open to referrals from schools",  # a service, not a child
    "is early help open to self referral",
    "are schools under a duty to report fgm",
    "is foster care under section 20",
    "is a child in foster care looked after",
    "are children in care entitled to a pep",
    "is everyone on the core group",
    "support for the disabled children in my class",
    "can you call 999",  # not a task to decline: the safety route's business
    "child j lessons learned",  # a published review, named by initial
    "baby p report",
    "what did the child t review find",  # a published review by initial
    "lessons from child q",
    "the coventry boy who starved",  # a published review: the knowledge base uses the word
    "what if the eldest girl discloses",
    "a child i work with has had his phone taken",  # "i" is a word, not an initial
    "what if child x discloses abuse",  # anyone
    "have children had their say in the review",
    "what happens at a child's initial conference",
    "can parents see their child's plan",
    "what's a core group",
    "who goes to this core group and what is its plan",
    "the council's plan for early help",
    "what goes in a young person's pathway plan",
    "is the referral for fgm mandatory",  # what the referral is, not where one has got to
    "has the referral for a child been accepted if i hear nothing",  # anyone
    "is the plan for the family reviewed",
    "what did the wood review decide",  # no day: a question about a published decision
    "what happens at a strategy discussion on a friday afternoon",  # not a past meeting
    "can the named dr for safeguarding attend",  # "dr" is left out: a role, not a person
    "can you check if a child on a plan can move school",  # anyone
    "child was made subject to a CP plan at ICPC today, whats next for me",  # a verb, no name
    "could you find out whether there is a rapid review template",
    "is the new baby at risk if dad has a conviction",  # a baby, not a family's name
    "what did the review of Arthur Labinjo-Hughes find",  # a published case's names
    "Tyler Brown",  # a name alone, first: not told inside a message
    "how do I read a chronology",  # records in general, not someone's handed over
    "when can a child protection plan be closed",  # a rule, not one case's decision
    "what does stepping down to early help mean",
]


@pytest.mark.parametrize(("text", "sign"), ONE_CASE)
def test_one_case_is_recognised(text: str, sign: str) -> None:
    assert about_one_case(text, KNOWN) == sign


@pytest.mark.parametrize("text", GENERAL)
def test_general_questions_are_not(text: str) -> None:
    assert about_one_case(text, KNOWN) is None


def test_no_question_expecting_a_topic_or_report_is_caught() -> None:
    """Every evaluation question that expects an answer passes through untouched."""
    caught = []
    for path in EVAL_SETS:
        for section, items in yaml_support.load(path.read_text(encoding="utf-8")).items():
            for item in items if isinstance(items, list) else []:
                # (sets in judge.py's format mark out of scope by their section)
                declined = item.get("expect") == "fallback" or section == "out_of_scope"
                if not declined and about_one_case(item["q"], KNOWN):
                    caught.append((path.name, section, item["q"]))
    assert caught == []


async def test_declined_with_who_to_ask_and_the_topic_one_tap_away(chat: Chat) -> None:
    await chat.say("is mia on a child protection plan")
    [reply] = chat.replies
    assert reply.kind == CASEWORK
    assert "can't see anyone's records" in reply.text
    assert "social worker" in reply.text and "/urgent" in reply.text
    assert chat.assistant.settings.contacts.front_door.phone in reply.text
    general = [b for b in reply.buttons if b.label.startswith("In general: ")]
    assert general and general[0].data.startswith("/topic ")
    assert [b.data for b in reply.buttons][-1] == "/urgent"
    await chat.press("In general: ")
    assert chat.replies[0].kind == "answer"


async def test_a_case_message_is_not_kept(chat: Chat) -> None:
    await chat.say("what's the outcome of the section 47 on the Baker family")
    assert chat.replies[0].kind == CASEWORK
    assert await chat.assistant.storage.questions.unanswered() == []


async def test_a_live_concern_about_a_named_child_still_gets_the_safety_route(chat: Chat) -> None:
    await chat.say("mia told me this morning her dad hits her and she is scared to go home")
    assert chat.replies[0].kind == "urgent"


async def test_in_a_flow_declined_then_the_step_again(chat: Chat) -> None:
    await chat.say("/threshold")
    question = chat.replies[-1]
    await chat.say("is mia on a child protection plan")
    assert chat.replies[0].kind == CASEWORK
    assert (chat.replies[-1].title, chat.replies[-1].text) == (question.title, question.text)
