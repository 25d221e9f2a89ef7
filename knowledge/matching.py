"""One decision from two signals: what a free question most likely asks for.

Documents are found by name (search.py): one is linked only when the lexical matcher answers
it, because a wrong link is worse than none. Topics and actions are scored by meaning too
(semantic.py): an entry's score is the better of its semantic similarity (cosine, 0-1) and its
lexical score (0-100, scaled to 0-1). Either signal alone is enough to find an entry: a
paraphrase shares no words with the stored questions ("purpose of serious case reviews"), and a
typo or a name means nothing to the model ("liason officer" is corrected before it is embedded,
but a child's name never is). When both signals point at one entry, the weaker adds a little.

The thresholds were set on the practice questions (tests/eval/, `main.py eval`), measured with
today's topics and with those of issue 10 merged in: the out-of-scope questions' best topic
scores 0.54 at most when no word of a name supports it (one case-specific question, "the
outcome of the strategy meeting", reaches 0.58: hence MEANING_ALONE), while every right answer
without word support scores at least 0.75, and with word support at least 0.58. Close entries
(CLOSE) become choices; a best entry under SURE, or with runners-up within RUNNER_UP, is
answered with a way to the others.

The outcome is one of
- "answer": one entry; `sure` says whether it is clearly ahead. When it is not, `others` holds
  the runners-up the user may have meant (offered behind a "Not what you meant?" button);
- "choices": two to four entries so close that picking one would be a guess;
- "compare": two or three topics asked about together ("the difference between an SCR and a
  rapid review", "... a rapid review, an lcspr and a silp");
- "about": a question about a conversation the assistant can run ("how does the threshold
  check work?"), answered with what it is and a button to start it: a conversation starts
  only on a clear request ("I want to notify") or a button;
- "confirm": one document may be what was asked for, but not surely: the user is asked;
- "none": nothing close enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from knowledge.loader import Knowledge, Report
from knowledge.search import (
    ANSWER_CUTOFF,
    KIND_WORDS,
    MAX_CHOICES,
    SUGGEST_CUTOFF,
    SearchResult,
    choices_of,
    kind_words,
    tokens,
    words,
)

ABSTAIN = 0.56  # below this, nothing is answered
SURE = 0.8  # at or above this, with no runner-up, the answer needs no "Not what you meant?"
CLOSE = 0.03  # entries this close to the best are offered as choices
TIE_BREAK = 0.2  # how much the weaker signal adds to the stronger, when it reaches AGREE
AGREE = 0.6
MEANING_ALONE = 0.62  # a topic no name's words support must be at least this close in meaning
WEAK_WORDS = 0.1  # taken off a lexical score under search.ANSWER_CUTOFF
RUNNER_UP = 0.15  # entries this close to an uncertain best are offered as "Not what you meant?"
ABOUT_MARGIN = 0.05  # a topic this near a conversation asked about is answered instead
# A topic clearly ahead of the next one is answered (with "Not what you meant?") though its own
# score is modest, when the question has a sign of safeguarding: "tips for listening to a
# disclosure without leading questions" is near one topic only. Without the sign, a clear lead
# means nothing ("annual leave policy" is far nearer to care leavers than to anything else).
# Set on the practice set's out-of-scope questions (tests/eval/questions.yaml): the one with a
# safeguarding word and a best topic over LEAD_FLOOR ("is Tyler Brown on the child protection
# register") leads by 0.015; LEAD is well over twice that. Then judged on the other sets.
LEAD_FLOOR = 0.5
LEAD = 0.04

# The two halves of a comparison: "difference between X and Y", "X vs Y", "is X the same as Y".
_COMPARISON = (
    re.compile(r"\bdifferen(?:ce|ces|t)\b.*?\bbetween (?P<a>.+?) and (?P<b>.+)"),
    re.compile(r"\bcompare (?P<a>.+?) (?:and|with|to) (?P<b>.+)"),
    re.compile(r"^(?P<a>.+?) (?:or|and) (?P<b>.+?) (?:what s |whats |what is )?(?:the )?differen"),
    re.compile(r"^(?:is |are )?(?P<a>.+?) (?:vs|versus|v)\b (?P<b>.+)"),
    re.compile(r"\b(?:is|are) (?P<a>.+?) (?:the same as|the same thing as|like) (?P<b>.+)"),
    re.compile(r"\bhow (?:does|do|is|are) (?P<a>.+?) differ(?:ent)? (?:from|to) (?P<b>.+)"),
    re.compile(r"^(?P<a>.+?) (?:compared (?:to|with)|different (?:from|to)) (?P<b>.+)"),
)


@dataclass(frozen=True)
class Decision:
    outcome: str  # "answer", "choices", "compare", "about", "confirm" or "none"
    ids: tuple[str, ...] = ()  # the answer's entry; the choices; the compared topics
    sure: bool = True  # for "answer": clearly ahead of every other entry
    others: tuple[str, ...] = ()  # for an unsure "answer": what else it may have been

    @property
    def best(self) -> str | None:
        return self.ids[0] if self.ids else None


def decide(knowledge: Knowledge, text: str) -> Decision:
    """What `text` asks for. The semantic index must be ready (`await semantic.ready()`)."""
    parts = compared_parts(text)
    if parts is not None:
        compared = _compared_topics(knowledge, parts)
        if compared is not None:
            return Decision("compare", compared)
    return _decide_one(knowledge, text)


def compared_parts(text: str) -> list[str] | None:
    """The things `text` compares: two halves, the first of which may be a list ("the
    difference between a rapid review, an lcspr and a silp"); None if it compares nothing."""
    # Commas are kept as a word of their own, since `words` drops them and they separate a list.
    pieces = (" ".join(words(piece)) for piece in re.split(r"[,;]", text))
    folded = f" {_LIST_COMMA} ".join(piece for piece in pieces if piece)
    for pattern in _COMPARISON:
        found = pattern.search(folded)
        if found:
            # After the last "and", a comma ends the list: "x and y, please".
            listed = [*found["a"].split(_LIST_COMMA), found["b"].split(_LIST_COMMA)[0]]
            items = (item.strip() for part in listed for item in _VERSUS.split(part))
            return [item for item in items if item][:MAX_COMPARED]
    return None


_LIST_COMMA = "<comma>"
_VERSUS = re.compile(r"\b(?:vs|versus)\b")  # "x vs y vs z"
MAX_COMPARED = 3  # more than this is a list of topics, not a comparison


def _compared_topics(knowledge: Knowledge, parts: list[str]) -> tuple[str, ...] | None:
    """The topic each part names, if every part names a topic and no two name the same."""
    picked: list[str] = []
    for part in parts:
        ranked = [(i, s) for i, s in ranked_entries(knowledge, part) if i in knowledge.topics]
        if not ranked or ranked[0][1] < ABSTAIN:
            return None
        picked.append(ranked[0][0])
    if len(picked) < 2 or len(set(picked)) < len(picked):
        return None
    return tuple(picked)


def ranked_entries(
    knowledge: Knowledge, text: str, words_found: SearchResult | None = None
) -> list[tuple[str, float]]:
    """Topics and actions, each with the better of its two scores (0-1), best first.
    `words_found` is the lexical matcher's result for `text`, when the caller has it."""
    index = knowledge.index
    combined = dict(knowledge.semantic.scores(index.corrected(text)))
    lexical: dict[str, float] = {}
    for match in (words_found or index.search(text)).matches:
        if match.id in knowledge.reports:
            continue
        score = match.score / 100.0
        # Under the lexical matcher's own answer cutoff, words alone are a weak sign: a name
        # shares one word with the question ("the bedford report" and the Bedford partnership).
        lexical[match.id] = score if match.score >= ANSWER_CUTOFF else score - WEAK_WORDS
    # The better signal decides; the other adds to it when it is a sign on its own too ("I
    # want to notify" names two actions word for word, and only its meaning tells them apart).
    scored = {}
    for entry_id, meaning in combined.items():
        words_ = lexical.get(entry_id, 0.0)
        weaker = min(meaning, words_)
        scored[entry_id] = max(meaning, words_) + (TIE_BREAK * weaker if weaker >= AGREE else 0)
    for entry_id, score in lexical.items():
        scored.setdefault(entry_id, score)
    return sorted(scored.items(), key=lambda item: (-item[1], item[0]))


def _decide_one(knowledge: Knowledge, text: str) -> Decision:
    lexical = knowledge.index.search(text)
    best = lexical.best
    if lexical.decision == "answer" and best is not None and best.id in knowledge.reports:
        return Decision("answer", (best.id,))
    documents: tuple[str, ...] = ()
    if lexical.decision == "choices":
        offered = [m.id for m in choices_of(lexical)]
        documents = tuple(i for i in offered if i in knowledge.reports)
        if len(documents) == len(offered) and len(documents) > 1:
            return Decision("choices", documents)  # several documents fit the name
        if documents and _names_document_kind(knowledge, text, documents):
            # "blank notification form", "slides on national scrs": a document is wanted.
            named = _named_outright(knowledge, text, documents)
            return Decision("answer", named) if named else _documents(documents)
    if len(documents) == 1 and not _names_in_earnest(knowledge, text, documents[0]):
        documents = ()  # "report a broken streetlight" is not Operation Brooke
    ranked = ranked_entries(knowledge, text, lexical)
    request = is_request(text)
    if ranked and ranked[0][1] >= ABSTAIN and not request:
        top_action = knowledge.actions.get(ranked[0][0])
        topics = [s for i, s in ranked if i in knowledge.topics]
        # A topic as near as the conversation answers a question about it ("who decides
        # whether to send a SIN"); the conversation is then one button away.
        near_topic = bool(topics) and ranked[0][1] - topics[0] < ABOUT_MARGIN
        if (
            top_action is not None
            and top_action.about
            and _starts_flow(knowledge, top_action.id)
            and not near_topic
        ):
            # "how does the threshold check work?": what it is, and a button to start it.
            return Decision("about", (top_action.id,))
    # A question about a conversation ("who can submit a notification?") is answered by its
    # topic; the conversation itself is only offered, unless the text asks to start it.
    offered_flows: list[str] = []
    if not request:
        kept: list[tuple[str, float]] = []
        for entry_id, score in ranked:
            if _starts_flow(knowledge, entry_id):
                if score >= ABSTAIN and (not kept or kept[0][1] - score < RUNNER_UP):
                    offered_flows.append(entry_id)
            else:
                kept.append((entry_id, score))
        ranked = kept
    if not documents and clear_lead(knowledge, text, ranked):
        top_id, top = ranked[0]
        runners = [i for i, s in ranked[1:] if top - s < RUNNER_UP]
        others = tuple(dict.fromkeys([*offered_flows, *runners]))[: MAX_CHOICES - 1]
        return Decision("answer", (top_id,), sure=False, others=others)
    if not ranked or ranked[0][1] < ABSTAIN:
        return _documents(documents)
    if ranked[0][1] < MEANING_ALONE and _lexical_score(lexical, ranked[0][0]) < SUGGEST_CUTOFF:
        # Meaning alone, and not much of it: "the outcome of the strategy meeting" is near
        # a topic on disagreeing with decisions, but is a question about one case.
        return _documents(documents)
    if request:
        # Asked to do something: a conversation that does it comes before a topic about it.
        actions = [(i, s) for i, s in ranked if i in knowledge.actions]
        if actions and ranked[0][1] - actions[0][1] < RUNNER_UP:
            ranked = [*actions[:1], *(pair for pair in ranked if pair != actions[0])]
    top_id, top = ranked[0]
    close = [i for i, s in ranked[1:] if s >= ABSTAIN and top - s < CLOSE]
    if close:
        leader = _supported_leader(knowledge, text, [top_id, *close])
        if leader is None:
            return Decision("choices", (top_id, *close)[:MAX_CHOICES])
        # Tied on their nearest lines, but one has several lines near: answered, the others
        # one button away.
        others = tuple(i for i in (top_id, *close) if i != leader)[: MAX_CHOICES - 1]
        return Decision("answer", (leader,), sure=False, others=others)
    runners = [i for i, s in ranked[1:] if s >= ABSTAIN and top - s < RUNNER_UP]
    # A document whose name fits as well as the topic's is a runner-up, never a guessed link.
    runners += [d for d in documents if _lexical_score(lexical, d) >= SUGGEST_CUTOFF]
    others = tuple(dict.fromkeys([*offered_flows, *runners]))[: MAX_CHOICES - 1]
    return Decision("answer", (top_id,), sure=top >= SURE and not others, others=others)


# How much nearer an entry's best few lines must be, on average, to break a tie: the same
# figures from 0.03 to 0.08 on every set (docs/benchmarks.md).
SUPPORT_LEAD = 0.05


def _supported_leader(knowledge: Knowledge, text: str, tied: list[str]) -> str | None:
    """Of entries tied on their best line, the one whose best few lines are clearly nearer."""
    support = knowledge.semantic.support(knowledge.index.corrected(text), tied)
    if len(support) < len(tied):
        return None
    ordered = sorted(support.items(), key=lambda item: -item[1])
    # Only a topic: a conversation is never started on a tie broken by this.
    if ordered[0][1] - ordered[1][1] >= SUPPORT_LEAD and ordered[0][0] in knowledge.topics:
        return ordered[0][0]
    return None


def clear_lead(knowledge: Knowledge, text: str, ranked: list[tuple[str, float]]) -> bool:
    """Whether the best of `ranked` is a topic under the usual bar but clearly ahead of the
    runner-up, in a question about safeguarding (see LEAD)."""
    if not ranked or ranked[0][0] not in knowledge.topics:
        return False
    top = ranked[0][1]
    if top >= MEANING_ALONE:
        return False  # the usual rules decide
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if top < LEAD_FLOOR or top - runner_up < LEAD:
        return False
    return has_safeguarding_sign(knowledge.index.corrected(text))


def has_safeguarding_sign(text: str) -> bool:
    """Whether `text` has a word only a question about children's safety would have."""
    return not SAFEGUARDING_SIGNS.isdisjoint(words(text))


# Words of children, harm and the work around it. Not "case", "serious", "review", "missing",
# "meeting" or "council": each is as common in the office's other business ("serious case of
# flu", "staff appraisal review", "case of the missing stapler").
SAFEGUARDING_SIGNS = frozenset(
    """
    child children childrens kid kids pupil pupils baby babies infant toddler teen teenager
    teenagers young youngster safeguarding safeguard abuse abused abusive neglect neglected
    harm harmed hurt injured injury disclose discloses disclosed disclosure confidentiality
    confidential secret allegation allegations agency agencies partnership partners lado
    groomed grooming exploited exploitation died death deaths dies dead referral refer concern
    concerns worried escalate escalation disagree disagreement consent school schools parents
    parent
    """.split()
)


SHORT_WORD = 6  # a typo in a word this short is as likely another ordinary word
_LONG_TYPO = 80.0  # how like a name's word a longer query word must be (rapidfuzz ratio)


def _names_in_earnest(knowledge: Knowledge, text: str, document: str) -> bool:
    """Whether `text` has one of `document`'s own words, or a long word near one: a short
    common word may only look like a name ("broken" and Brooke), and a kind word ("report")
    fits every document."""
    own = _own_words(knowledge.reports[document])
    said = set(tokens(text)) - KIND_WORDS
    if said & own:
        return True
    return any(
        fuzz.ratio(word, name_word) >= _LONG_TYPO
        for word in said
        if len(word) > SHORT_WORD
        for name_word in own
    )


def _documents(documents: tuple[str, ...]) -> Decision:
    """Documents whose names fit, none of them surely: a choice of several, a yes-or-no
    question for one (a link is never given on a guess), or nothing."""
    if len(documents) > 1:
        return Decision("choices", documents[:MAX_CHOICES])
    if documents:
        return Decision("confirm", documents)
    return Decision("none")


# Too common in questions about topics ("what must the council report to the panel") to
# mean that a document is wanted.
_GENERIC_KIND_WORDS = frozenset("report reports review reviews learning lessons".split())


def _names_document_kind(knowledge: Knowledge, text: str, documents: tuple[str, ...]) -> bool:
    """Whether `text` names the kind of one of `documents` ("form", "slides", "briefing")."""
    said = (set(words(text)) & KIND_WORDS) - _GENERIC_KIND_WORDS
    return any(said & kind_words(knowledge.reports[d].kind) for d in documents)


def _named_outright(knowledge: Knowledge, text: str, documents: tuple[str, ...]) -> tuple[str, ...]:
    """The one document of `documents` that `text` names both by its kind and by a word of its
    own name, spelled as the name spells it ("slides on national scrs": the catalogue's only
    presentation with "national" in its name). Empty when none, or more than one, fits: then
    the user is asked, since a link is never given on a guess."""
    said, meant = set(words(text)), set(tokens(text))
    named = [
        d
        for d in documents
        if said & kind_words(knowledge.reports[d].kind) and meant & _own_words(knowledge.reports[d])
    ]
    return tuple(named) if len(named) == 1 else ()


def _own_words(report: Report) -> set[str]:
    """The words of a document's own name (title and aliases), kind words left out."""
    return set(tokens(" ".join((report.title, *report.aliases)))) - KIND_WORDS


def is_request(text: str) -> bool:
    """Whether `text` asks to do something ("I want to notify", "start the threshold check")
    rather than asks about it ("who can submit a notification?", "how does it work?")."""
    said = " ".join(words(text))
    if _WANTS_TO_KNOW.search(said):
        return False
    if any(marker in f" {said} " for marker in _REQUEST_MARKERS):
        return True
    return bool(_POLITE_REQUEST.match(said))


# Said by someone who wants to do it now.
_REQUEST_MARKERS = tuple(
    f" {m} "
    for m in (
        "i want to", "i need to", "i would like to", "i d like to", "id like to", "we need to",
        "we want to", "i have to", "we have to", "let me", "help me", "take me", "start",
        "begin", "can i start", "i must", "we must",
    )
)  # fmt: skip
# Wanting to know about something is a question: "i want to understand the sin notification",
# "i need to know who decides".
_WANTS_TO_KNOW = re.compile(
    r"\b(?:want|need|would like|d like|like) to (?:know|understand|learn|find out|ask|read|hear)\b"
)
# An order ("make a notification"), or a polite one ("can I make a notification?"); but "can
# I share information?" asks about something, and so does a name ("threshold check").
_POLITE_REQUEST = re.compile(
    r"^(?:please )?(?:(?:can|could|may) (?:i|we|you) (?:please )?)?"
    r"(?:make|start|submit|send|fill|notify|report|begin|run|open|complete|do a)\b"
)
# Commands that only show something: a question may run them.
INFORMATION_COMMANDS = frozenset(("/help", "/reports", "/contact", "/privacy"))


def _starts_flow(knowledge: Knowledge, entry_id: str) -> bool:
    action = knowledge.actions.get(entry_id)
    return action is not None and action.command not in INFORMATION_COMMANDS


def _lexical_score(result: SearchResult, entry_id: str) -> float:
    for match in result.matches:
        if match.id == entry_id:
            return match.score
    return 0.0
