"""The report and briefing finder: the right link from half a name, a question back when a
request fits several documents, and an honest "not in the catalogue" otherwise.

Through the conversation core (what a user sees), the real Telegram Application for /reports
and inline mode, and `ask --json` (main.py in this process).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.channels.telegram import inline_article
from handlers.safety import safety_line
from knowledge.loader import Knowledge, Report, load_knowledge
from knowledge.report_lookup import find_reports
from knowledge.search import SUGGEST_CUTOFF, SearchIndex
from tests.cli import run_main
from tests.conftest import Chat
from tests.telegram_support import TelegramHarness, buttons_of

ROOT = Path(__file__).resolve().parent.parent
NSPCC = "https://learning.nspcc.org.uk/case-reviews/national-case-review-repository"

# Every document in the catalogue, by at least two phrasings; the last of each has a typo or
# is a nickname, a place or a person rather than the title.
PHRASINGS: dict[str, list[str]] = {
    "national-scrs-presentation": [
        "powerpoint on the three national reviews",
        "pelka khan williams slides",
    ],
    "nspcc-repository": ["nspcc case review repository", "nspcc libary"],
    "baby-peter": ["send me the baby p report", "Baby Peter", "peter conelly"],
    "daniel-pelka": [
        "send me the Pelka report",
        "scr for daniel pelka",
        "coventry starvation case",
        "pelkaa",
    ],
    "hamzah-khan": ["hamzah khan", "hamza khan review", "amanda hutton"],
    "keanu-williams": ["Keanu Williams SCR", "keanu willams", "kiwi"],
    "victoria-climbie": ["climbié", "climbie", "the laming report", "victoria climbe"],
    "rochdale-young-people-1-6": ["rochdale young people 1 to 6", "rochdale yp1-6"],
    "rochdale-young-person-7": ["rochdale young person 7", "rochdle yp7"],
    "somerset-first-school": ["nigel leat", "hillside first scool"],
    "somerset-briefing-paper": ["somerset briefing paper", "leat background"],
    "nspcc-gp-briefing": ["gp briefing", "lessons for general practitoners"],
    "national-panel-second-report": ["second panel report", "national panel second reprot"],
    "operation-brooke": ["operation brooke", "bristol grooming", "operaton brook"],
    "derby-cse": ["derby executive summary", "operation retriever", "derbi"],
    "rotherham-inquiry": ["the jay report", "alexis jay", "rotheram inquiry"],
    "oxfordshire-cse": ["operation bullfinch", "operation bulfinch"],
    "patrick-scr": ["patrick report", "patrick scr", "the patrick reveiw"],
    "patrick-briefing": ["briefing for patrick", "patrick lessons", "patrick practitoner briefing"],
    "thematic-review": ["thematic review", "thematic review of disabled children"],
    "thematic-review-briefing": ["disabled children briefing", "thematic breifing"],
    "sophie": ["hertfordshire sophie", "sophie"],
    "child-a1301": ["child a1301 full report", "a1301"],
    "child-j-executive-summary": ["child j executive summary", "child j exec summary"],
    "child-j-lessons": ["child j lessons", "lessons learnt from child j", "child j lesons"],
    "dl-executive-summary": ["DL executive summary", "dl exec sumary"],
    "working-together-2015": ["working together 2015", "wt2015"],
    "notification-form": ["significant incident notification form", "notifcation form"],
    "disrespect-nobody-materials": [
        "disrespect nobody campaign materials",
        "disrespekt nobody materials",
    ],
    # The national Panel's publications
    "panel-it-was-hard-to-escape-2020": [
        "it was hard to escape",
        "it was hard to escape report",
    ],
    "panel-out-of-routine-2020": ["out of routine report", "out of routine sudi review"],
    "panel-myth-of-invisible-men-2021": ["the myth of invisible men", "invisible men review"],
    "panel-child-protection-in-england-2022": [
        "child protection in england review",
        "the arthur labinjo-hughes review",
    ],
    "panel-safeguarding-children-with-disabilities-in-residential-settings-2022": [
        "hesley phase 1",
        "the hesley group review phase 1",
    ],
    "panel-safeguarding-children-with-disabilities-in-residential-settings-phase-2-2023": [
        "hesley phase 2",
        "residential settings phase 2 report",
    ],
    "panel-i-wanted-them-all-to-notice-2024": [
        "i wanted them all to notice",
        "the panel review on child sexual abuse in the family",
    ],
    "panel-its-silent-race-racism-and-safeguarding-children-2025": [
        "it's silent report",
        "race racism and safeguarding review",
    ],
    "panel-multi-agency-safeguarding-and-domestic-abuse-2022": [
        "panel paper on multi-agency safeguarding and domestic abuse",
        "the panel's domestic abuse briefing paper",
    ],
    "panel-safeguarding-children-in-elective-home-education-2024": [
        "panel briefing paper on elective home education",
        "the panel's home education briefing paper",
    ],
    "panel-safeguarding-children-during-covid-19-2020": [
        "covid practice briefing from the panel",
        "covid-19 safeguarding briefing",
    ],
    "panel-annual-report-2018-to-2019": [
        "panel annual report 2018 to 2019",
        "the panel's first annual report",
    ],
    "panel-annual-report-2020": ["panel annual report 2020", "the panel's second annual report"],
    "panel-annual-report-2021": ["panel annual report 2021", "the panel's third annual report"],
    "panel-annual-report-2022-to-2023": [
        "panel annual report 2022 to 2023",
        "the panel's fourth annual report",
    ],
    "panel-annual-report-2023-to-2024": [
        "panel annual report 2023 to 2024",
        "the panel's fifth annual report",
    ],
}

CASES = [(report_id, text) for report_id, texts in PHRASINGS.items() for text in texts]


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge(
        ROOT / "knowledge", ROOT / "knowledge" / "partnerships" / "bedford-borough"
    )


def test_every_catalogue_entry_has_phrasings(knowledge: Knowledge) -> None:
    assert set(PHRASINGS) == set(knowledge.reports)
    assert all(len(texts) >= 2 for texts in PHRASINGS.values())


@pytest.mark.parametrize(("report_id", "text"), CASES)
async def test_phrasing_reaches_document(chat: Chat, report_id: str, text: str) -> None:
    replies = await chat.say(text)
    assert (replies[0].kind, replies[0].id) == ("report", report_id)
    report = chat.assistant.knowledge.reports[report_id]
    assert replies[0].title == report.title
    assert report.summary in replies[0].text
    if report.url:
        assert [link.url for link in replies[0].links] == [report.url]
        # The reply says what the link is; news coverage is never offered as the document.
        assert ("not the document itself" in replies[0].text) == (report.link == "coverage")
        assert ("Open it with the link below" in replies[0].text) == (report.link == "official")
    else:
        # No address is known: nothing is invented, the user is told whom to ask.
        assert replies[0].links == ()
        assert "ask the partnership (BBSCP) for a copy" in replies[0].text
        assert chat.assistant.settings.partnership_email in replies[0].text


async def test_reply_gives_facts_and_related_documents(chat: Chat) -> None:
    await chat.say("pelka")
    assert "Full report, 2013, Coventry Safeguarding Children Board" in chat.text
    related = chat.assistant.knowledge.reports["daniel-pelka"].related
    assert [b.data for b in chat.buttons][: len(related)] == [f"/report {r}" for r in related]
    await chat.press("Hamzah Khan")
    assert chat.replies[0].id == "hamzah-khan"
    await chat.press("« National serious case reviews")
    assert chat.replies[0].kind == "group"
    assert "daniel-pelka" in chat.replies[0].ids


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("patrick", {"patrick-scr", "patrick-briefing"}),
        ("child j", {"child-j-executive-summary", "child-j-lessons"}),
        ("rochdale", {"rochdale-young-people-1-6", "rochdale-young-person-7"}),
        ("starvation", {"daniel-pelka", "hamzah-khan"}),
    ],
)
async def test_ambiguous_request_offers_choices(chat: Chat, text: str, expected: set[str]) -> None:
    replies = await chat.say(text)
    assert replies[0].kind == "choices"
    assert set(replies[0].ids) == expected
    assert replies[0].links == ()
    assert {b.data for b in chat.buttons} == {f"/report {r}" for r in expected}


async def test_choosing_between_documents_of_one_case(chat: Chat) -> None:
    await chat.say("patrick")
    await chat.press("practitioner briefing")
    assert chat.replies[0].id == "patrick-briefing"
    await chat.say("child j")
    await chat.press("lessons")
    assert chat.replies[0].id == "child-j-lessons"


@pytest.mark.parametrize(
    ("text", "report_id"),
    [
        ("briefing for patrick", "patrick-briefing"),
        ("patrick report", "patrick-scr"),
        ("patrick scr", "patrick-scr"),
        ("the full report on patrick", "patrick-scr"),
        ("child j lessons", "child-j-lessons"),
        ("child j summary", "child-j-executive-summary"),
        ("thematic review", "thematic-review"),
        ("thematic briefing", "thematic-review-briefing"),
    ],
)
async def test_kind_words_steer_between_documents_of_a_case(
    chat: Chat, text: str, report_id: str
) -> None:
    replies = await chat.say(text)
    assert (replies[0].kind, replies[0].id) == ("report", report_id)


async def test_what_is_an_scr_is_still_the_topic(chat: Chat) -> None:
    replies = await chat.say("what is an SCR")
    assert (replies[0].kind, replies[0].id) == ("answer", "serious-case-review")


@pytest.mark.parametrize(
    "text", ["the Smith review", "the report on bin collections", "send me the Jones briefing"]
)
async def test_unknown_document_gets_the_national_repository(chat: Chat, text: str) -> None:
    replies = await chat.say(text)
    assert replies[0].kind == "fallback"
    assert "catalogue" in replies[0].text
    assert [link.url for link in replies[0].links] == [NSPCC]
    assert len(replies) == 1


@pytest.mark.parametrize(
    "text",
    [
        "can i get a copy of the child Q report",  # not "how do I report a concern"
        "could you send me a link to the Zorblax review",
        "pdf of the quentin family briefing please",
    ],
)
async def test_a_copy_of_an_unknown_document_is_not_answered_with_a_topic(
    chat: Chat, text: str
) -> None:
    """The other words of the request may touch a topic (reporting a concern, a family); a
    document was asked for, and it is not in the catalogue."""
    replies = await chat.say(text)
    assert replies[0].kind == "fallback"
    assert "catalogue" in replies[0].text


@pytest.mark.parametrize(
    "text",
    [
        "daniel smith",  # a first name of a catalogued child, another surname
        "keanu reeves",
        "patrick stewart review",
        "baby t",  # "Baby P" is catalogued, "Baby T" is not
        "child k executive summary",
        "child a full report",  # fits "Child A1301 - full report" but for its number
        "the bedford report",  # the board's own name, and a reviewer's surname elsewhere
        "cse scr",  # two CSE serious case reviews, not one
    ],
)
async def test_near_miss_never_links_a_document(chat: Chat, text: str) -> None:
    replies = await chat.say(text)
    assert replies[0].kind != "report"
    # The national repository is offered with "not in the catalogue"; no other document is.
    report_urls = {r.url for r in chat.assistant.knowledge.reports.values()} - {NSPCC}
    assert not {link.url for reply in replies for link in reply.links} & report_urls


@pytest.mark.parametrize("text", ["the Smith review", "/report smith"])
async def test_unknown_document_ends_with_the_safety_route(chat: Chat, text: str) -> None:
    """Typed as a question or through /report, "not in the catalogue" ends like every other
    "I don't have that": with the one-line safety route."""
    replies = await chat.say(text)
    assert replies[0].kind == "fallback"
    assert replies[0].text.endswith(safety_line(chat.assistant.settings))


async def test_report_command_takes_a_name(chat: Chat) -> None:
    replies = await chat.say("/report climbie")
    assert replies[0].id == "victoria-climbie"
    replies = await chat.say("/report patrick")
    assert replies[0].kind == "choices"
    replies = await chat.say("/report smith")
    assert replies[0].kind == "fallback"
    replies = await chat.say("/report")
    assert any(b.data == "/reports" for b in replies[0].buttons)


async def test_reports_navigation(chat: Chat) -> None:
    knowledge = chat.assistant.knowledge
    replies = await chat.say("/reports")
    assert replies[0].kind == "groups"
    assert [b.label for b in chat.buttons] == [g.title for g in knowledge.groups.values()]
    await chat.press("Local serious case reviews")
    local = [r.id for r in knowledge.reports.values() if r.group == "local"]
    assert chat.replies[0].ids == tuple(local)
    await chat.press("Patrick - practitioner briefing")
    assert (chat.replies[0].kind, chat.replies[0].id) == ("report", "patrick-briefing")
    await chat.press("« Local serious case reviews")  # back to the group
    assert chat.replies[0].id == "local"
    await chat.press("« All groups")
    assert chat.replies[0].kind == "groups"
    replies = await chat.say("/reports nonsense")
    assert 'no group called "nonsense"' in replies[0].text
    assert replies[0].kind == "groups"


async def test_reports_navigation_in_telegram(telegram: TelegramHarness) -> None:
    sent = await telegram.send_text(11, "/reports")
    groups = {b["text"]: b["callback_data"] for b in buttons_of(sent[0])}
    sent = await telegram.press(11, groups["National serious case reviews"])
    assert sent[0]["text"].startswith("<b>National serious case reviews</b>")
    documents = {b["text"]: b["callback_data"] for b in buttons_of(sent[0])}
    sent = await telegram.press(11, documents["Serious case review - Daniel Pelka"])
    message = sent[0]
    assert message["text"].startswith("<b>Serious case review - Daniel Pelka</b>")
    urls = [b["url"] for b in buttons_of(message) if "url" in b]
    assert urls == [
        telegram.app.bot_data["channel"].assistant.knowledge.reports["daniel-pelka"].url
    ]
    back = next(b["callback_data"] for b in buttons_of(message) if b["text"].startswith("«"))
    sent = await telegram.press(11, back)
    assert sent[0]["text"].startswith("<b>National serious case reviews</b>")


async def test_inline_query_lists_matching_documents(telegram: TelegramHarness) -> None:
    knowledge = telegram.app.bot_data["channel"].assistant.knowledge
    answer = await telegram.inline(21, "pelka")
    results = answer["results"]
    assert [r["id"] for r in results] == ["daniel-pelka", "national-scrs-presentation"]
    pelka = knowledge.reports["daniel-pelka"]
    first = results[0]
    assert first["type"] == "article"
    assert first["title"] == pelka.title
    assert first["description"] == "Full report, 2013, Coventry Safeguarding Children Board"
    content = first["input_message_content"]
    assert content["message_text"] == f"<b>{pelka.title}</b>\n{pelka.url}"
    assert content["parse_mode"] == "HTML"
    assert first["reply_markup"]["inline_keyboard"][0][0]["url"] == pelka.url
    # No public address: the shared message says whom to ask, and there is no button.
    presentation = results[1]
    assert "reply_markup" not in presentation
    contact = telegram.app_settings.partnership_email
    assert contact in presentation["input_message_content"]["message_text"]


@pytest.mark.parametrize("text", ["", "the Smith review", "what time is it"])
async def test_inline_query_without_match_is_empty(telegram: TelegramHarness, text: str) -> None:
    answer = await telegram.inline(22, text)
    assert answer["results"] == []


async def test_inline_query_never_lists_topics(telegram: TelegramHarness) -> None:
    knowledge = telegram.app.bot_data["channel"].assistant.knowledge
    answer = await telegram.inline(23, "what is an SCR")
    assert answer["results"], "documents about serious case reviews are listed"
    assert all(r["id"] in knowledge.reports for r in answer["results"])


def test_inline_article_escapes_html(knowledge: Knowledge) -> None:
    report = Report(
        id="x",
        title="Child <B> & family",
        kind="full report",
        group="local",
        area="",
        year=None,
        aliases=(),
        summary="s",
        related=(),
        url="https://example.org/a?b=1&c=2",
        link="official",
    )
    article = inline_article(report, "board@example.org").to_dict()
    text = article["input_message_content"]["message_text"]
    assert text == "<b>Child &lt;B&gt; &amp; family</b>\nhttps://example.org/a?b=1&amp;c=2"
    assert article["title"] == "Child <B> & family"  # plain text in Telegram's result list


def test_find_reports_is_what_the_chat_would_offer(knowledge: Knowledge) -> None:
    assert [r.id for r in find_reports(knowledge, "child j")] == [
        "child-j-executive-summary",
        "child-j-lessons",
    ]
    assert find_reports(knowledge, "daniel smith") == []
    assert len(find_reports(knowledge, "serious case review", limit=3)) == 3


def test_ask_json_gives_the_link(tmp_path: Path) -> None:
    # `main.py ask` in this process; as a process of its own: tests/test_lean_imports.py,
    # tests/test_embedding.py and the installed wheel's `ask --json` (tests/test_wheel.py).
    done = run_main(tmp_path, "ask", "--json", "briefing for patrick", "the jay report")
    assert done.returncode == 0, done.stderr
    briefing, jay = (json.loads(line) for line in done.stdout.splitlines())
    assert (briefing["kind"], briefing["id"], briefing["links"]) == (
        "report",
        "patrick-briefing",
        [],
    )
    assert "ask the partnership (BBSCP) for a copy" in briefing["text"]
    assert (jay["kind"], jay["id"]) == ("report", "rotherham-inquiry")
    assert [link["url"] for link in jay["links"]] == [
        "https://ro.scribd.com/document/238015906/Independent-Rotherham-Inquiry"
    ]


# The matcher stops walking as soon as no name left can reach the top entries, and a query of
# very common words in a very big catalogue only looks at a limited number of names. Both must
# leave what users get unchanged.


def _exhaustive_scores(index: SearchIndex, text: str) -> list[float]:
    """Every entry's score by scoring every name: the reference the early stop must match."""
    query = index._query(text)
    if query is None:
        return []
    best: dict[int, float] = {}
    for key in range(len(index._keys)):
        scores: dict[int, tuple[float, int]] = {}
        index._add(key, query, scores, floor=0.0)
        for entry_no, (score, _) in scores.items():
            best[entry_no] = max(best.get(entry_no, 0.0), score)
    return sorted((round(s, 1) for s in best.values() if s >= SUGGEST_CUTOFF), reverse=True)


@pytest.mark.slow  # scores every document for each of hundreds of queries
def test_early_stop_finds_what_scoring_everything_finds(knowledge: Knowledge) -> None:
    index = knowledge.index
    texts = [text for _, text in CASES] + ["cse", "review", "report summary briefing"]
    # A quarter of the topics' questions, spread over all of them: scoring every entry for
    # each is slow (16 s for all of them), and what is checked is the search, not the topics.
    texts += [q for topic in knowledge.topics.values() for q in topic.questions][::4]
    for text in texts:
        found = [m.score for m in index.search(text).matches if m.score >= SUGGEST_CUTOFF]
        assert found == _exhaustive_scores(index, text)[: len(found)], text


def test_walk_limit_keeps_names_spelled_in_full(knowledge: Knowledge) -> None:
    entries = knowledge.index.entries
    tiny = SearchIndex(entries, walk_limit=3)  # as if every word were very common
    assert tiny.search("what is an SCR").best.id == "serious-case-review"  # type: ignore[union-attr]
    assert tiny.search("pelka").decision == "answer"
    assert tiny.search("the Smith review").decision is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("haringey 2009", {"baby-peter"}),  # a year the catalogue does not name
        ("patrick 2016", {"patrick-scr", "patrick-briefing"}),
        ("working together 2015", {"working-together-2015"}),  # a year a name has still counts
    ],
)
async def test_a_year_in_a_request_does_not_hide_the_name(
    chat: Chat, text: str, expected: set[str]
) -> None:
    replies = await chat.say(text)
    assert set(replies[0].ids or (replies[0].id,)) == expected
