"""The one decision: what reply a free question gets, and why. Open this module to see it.

`decide(knowledge, query)` takes the question read once (knowledge/query.py) and returns a
`Decision`: its outcome, the entries behind it, what the reply says first (`lead`: the answer
to the facet asked, or the yes or no), and `why`, the signals that chose it
(`main.py ask --json --why` prints them). In order:

1. small talk ("thanks", "hello"), and a question with nothing in it ("what can you do?");
2. the learning from case reviews (learning_ask.py): what a review found, the reviews on a
   theme, what recurs across them, a 7-minute briefing;
3. a comparison of two or three topics ("the difference between an SCR and a rapid review");
4. a document named (search.py): linked only when clearly named, else a yes-or-no question or
   choices, never a guess; the one document a name fits, with a kind of document asked for
   ("send me the baby p scr"), is asked about before a topic on the kind is guessed;
5. topics and conversations, by three signals: names by words (search.py), names by meaning
   (semantic.py) and the topics' own text (passages.py, BM25); a topic that meaning and text
   both put clearly first is answered as a guess though neither is sure (AGREE_FLOOR); of
   topics tied, the one named word for word is answered;
6. what is not ours (knowledge/decline.py): casework about one child or family, an adult's
   matter, anything else; never answered with a children's topic (but a question asking what a
   thing it names is, is not declined on meaning alone);
6b. a topic's name said word for word (names.py): "what is <name>" is that topic, whatever
   else the message says; a question nothing else answers that names a topic (not a
   particular review by it) is answered by it as a guess;
7. a document asked for that the catalogue does not have ("a copy of the child Q report");
8. a yes/no question is never answered with a menu: its best topic is answered, leading with
   the check that fits, the others one tap away; between near topics, the one whose check fits
   clearly better answers it (CHECK_DECIDES).

Scores: an entry's is the better of its semantic similarity (cosine, 0-1) and its lexical
score (0-100, scaled to 0-1); when both point at it, the weaker adds a little (TIE_BREAK); and
the topic's own text adds up to TEXT_WEIGHT, in proportion to how much of the question it has.
Either names signal alone can find an entry: a paraphrase shares no words with the stored
questions, and a typo or a name means nothing to the model. The thresholds were set on the
practice questions (tests/eval/questions.yaml) and checked on the other sets: the
out-of-scope questions' best topic scores 0.54 at most when no word of a name supports it,
while right answers without word support score at least 0.75, with it at least 0.58.

The outcomes: "answer" (one entry; `sure` when clearly ahead, else `others` behind "Not what
you meant?"), "choices" (two to four entries too close to pick), "narrow" (more documents fit
than the buttons hold: all of them, to narrow by area, year and kind), "compare", "about" (a
question about a conversation the assistant runs, answered with what it is and a button to start
it),
"confirm" (one document may be meant: asked, not linked), "casework" and "decline" (not ours:
`kind` says which), "missing" (a document the catalogue lacks), "learning" (`learning` says
what is asked of the reviews), "greeting", "thanks", "help" and "none".
"""

from __future__ import annotations

import dataclasses
import heapq
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from knowledge.casework import about_one_case
from knowledge.decline import ADULT_REVIEW
from knowledge.learning_ask import LearningAsk, read_learning_ask
from knowledge.loader import Knowledge, Report
from knowledge.passages import Lead, check_fit, lead
from knowledge.query import Query, read_query
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
# The topics' own text (BM25, normalised by the best topic's) adds at most this much, in
# proportion to the share of the question's words (IDF-weighted) the topic's text has.
TEXT_WEIGHT = 0.08
# ... and only when its text has at least this share of the question: a word or two in common
# with a long text is no sign (it lifted "case of the missing stapler" over MEANING_ALONE).
TEXT_SHARE = 0.5
# A topic whose text has nearly all of the question (and more of it than any other topic's
# text) is a candidate on that alone, though no name says it: answered as a guess, with "Not
# what you meant?" ("is a failed batch scrapped and the supplier told").
TEXT_ALONE = 0.85
# ... and the question has this many words of its own, not counting the question words: a
# short one ("who runs bedford borough council") has all its words in some long text.
TEXT_ALONE_WORDS = 5
QUESTION_WORDS = frozenset("when where why whose".split())
MEANING_ALONE = 0.62  # a topic no name's words support must be at least this close in meaning
# Two signals agree: the topic nearest in meaning is also the one whose own text has most of
# the question (BM25's best). Each alone is a weak sign; the two independent ones together
# are answered (with "Not what you meant?") down to this meaning,
# when the text has at least AGREE_SHARE of the question (a chatty question's own words, "yr 8
# boy staying with his best mate's family", are in no topic).
AGREE_FLOOR = 0.5
AGREE_SHARE = 0.3
# ... and each signal puts it clearly first: by this much in meaning, and with the text's
# runner-up at most AGREE_TEXT_NEXT of it ("who is the leader of bedford borough council" is
# as near to two topics that name the council).
AGREE_LEAD = 0.05
AGREE_TEXT_NEXT = 0.8
# ... or, by meaning first however narrowly, when the text puts it far ahead (its runner-up at
# most this much of it) in a question with a sign of safeguarding ("childminder - who do I ring
# if i'm worried about a mindee at home"; not "how do i book rse training for staff").
AGREE_TEXT_FAR = 0.72
# ... or the text's first, with its runner-up at most AGREE_TEXT_NEXT_CLOSE of it, when meaning
# has it within AGREE_CLOSE of its own first.
AGREE_CLOSE = 0.05
AGREE_TEXT_NEXT_CLOSE = 0.85
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
# A topic named word for word answers a question nothing else answers when it is at least this
# near in meaning: "who decides whether someone referred to Prevent gets support" is 0.40 from
# Prevent; "DSP asked me to pull together info for the RR" is 0.31 from the partners a DSP is.
NAMED_NEAR = 0.35
# A near topic whose yes/no check fits the question this much better (passages.check_fit, 1 is
# near enough to lead) answers a yes/no question instead of the best topic.
CHECK_DECIDES = 0.05


@dataclass(frozen=True)
class Decision:
    outcome: str  # see the module's docstring
    ids: tuple[str, ...] = ()  # the answer's entry; the choices; the compared topics
    sure: bool = True  # for "answer": clearly ahead of every other entry
    others: tuple[str, ...] = ()  # for an unsure "answer": what else it may have been
    lead: Lead | None = None  # for a topic's answer: what it says first
    kind: str = ""  # for "decline": the class (adult, other)
    learning: LearningAsk | None = None  # for "learning": what is asked of the reviews
    why: tuple[str, ...] = field(default=(), compare=False)  # the signals, for --why

    @property
    def best(self) -> str | None:
        return self.ids[0] if self.ids else None


class Why:
    """The signals behind a decision, as short lines (no message text, only ids and scores)."""

    def __init__(self, query: Query) -> None:
        self.lines: list[str] = [f"facet: {query.facet or '-'}"]

    def note(self, line: str) -> None:
        self.lines.append(line)

    def scores(self, label: str, scored: dict[str, float] | list[tuple[str, float]]) -> None:
        pairs = list(scored.items()) if isinstance(scored, dict) else scored
        # sorted(...)[:4], as heapq documents it, without sorting every entry each question.
        top = heapq.nsmallest(4, pairs, key=lambda item: -item[1])
        self.note(f"{label}: " + (", ".join(f"{i} {s:.2f}" for i, s in top) or "-"))

    def __call__(self, decision: Decision) -> Decision:
        lines = [*self.lines, f"outcome: {decision.outcome} {' '.join(decision.ids)}".strip()]
        if decision.lead is not None:
            lines.append(f"lead: {decision.lead.source}")
        return dataclasses.replace(decision, why=tuple(lines))


def decide(knowledge: Knowledge, query: Query) -> Decision:
    """What `query` asks for, and why. The semantic indexes must be ready (`ready()`)."""
    why = Why(query)
    small = _small_talk(query)
    if small is not None:
        return why(Decision(small))
    if not query.tokens:
        return why(Decision("help"))  # nothing but filler: there is no question to answer
    ask = read_learning_ask(knowledge.learning, knowledge.index, query, knowledge.text.knows)
    if ask is not None:
        why.note(f"learning: {ask.want} {ask.review or ask.theme or ask.sector or ''}".rstrip())
        return why(Decision("learning", learning=ask))
    if query.compared is not None:
        compared = _compared_topics(knowledge, list(query.compared))
        if compared is not None:
            return why(Decision("compare", compared))
    decision = _decide_one(knowledge, query, why)
    declined = _declined(knowledge, query, decision, why)
    if declined is not None:
        return why(declined)
    if decision.outcome == "none" and query.closing and _tells_of_harm(query.words):
        # A case told, then a short question ("baby with a fractured skull, dad admitted
        # shaking him, who has to notify the panel"): the story's words outweigh the
        # question's in the averaged meaning, so the question is decided alone. Only for a
        # story of a child's harm, so "my manager shouts at me, what should I do" stays
        # unanswered.
        closing = read_query(query.closing, knowledge.index)
        retried = _decide_one(knowledge, closing, why, documents_named=False)
        if retried.outcome in ("answer", "about", "choices"):
            why.note("rule: the story's closing question, decided alone")
            decision = retried  # what it leads with is still read from the whole story
    decision = _by_name(knowledge, query, decision, why)
    if (
        decision.outcome in ("answer", "compare")
        and decision.best not in knowledge.reports
        and wants_unknown_document(knowledge, query)
    ):
        why.note("rule: a copy of a document the catalogue does not have")
        return why(Decision("missing"))
    if query.facet == "yesno" and decision.outcome == "choices":
        # A yes or a no is never a menu: the nearest topic, the others one tap away.
        topics = [i for i in decision.ids if i in knowledge.topics]
        if topics:
            why.note("rule: a yes/no question is answered, not offered choices")
            others = tuple(i for i in decision.ids if i != topics[0])
            decision = Decision("answer", (topics[0],), sure=False, others=others)
    if query.facet == "yesno" and decision.outcome == "answer" and decision.others:
        decision = _by_check(knowledge, query, decision, why)
    if decision.outcome == "answer" and decision.best in knowledge.topics:
        topic = knowledge.topics[decision.best]
        first = lead(topic, query, knowledge.text, knowledge.semantic.similarities)
        decision = Decision("answer", decision.ids, decision.sure, decision.others, first)
    return why(decision)


def _by_name(knowledge: Knowledge, query: Query, decision: Decision, why: Why) -> Decision:
    """The rules on a topic's name said word for word in the question (knowledge/names.py):
    "what is <name>" is that topic, whatever else the message says ("whats a rapid review?? our
    named nurse keeps mentioning one"); and a question nothing else answers, that names a
    topic, is answered by it as a guess ("who decides whether someone referred to Prevent gets
    support"), the nearest in meaning of the topics it names."""
    if decision.outcome not in ("answer", "choices", "none") or decision.best in knowledge.reports:
        return decision
    named = knowledge.names.said(query.text, query.corrected)
    asked = next((n.topic for n in named if n.asked_about), None)
    if asked is not None:
        if decision.outcome == "answer" and decision.best == asked:
            return decision
        why.note('rule: the topic named after "what is"')
        others = tuple(i for i in decision.ids if i != asked and i in knowledge.topics)
        return Decision("answer", (asked,), sure=not others, others=others[: MAX_CHOICES - 1])
    if decision.outcome != "none" or query.request:
        return decision  # "i need to renew my dbs" asks to do something, not about DBS checks
    # Not "the herts SCR where ...", "Baby Tilly SCR": a particular review, which the
    # document finder did not find; "could we be dragged into a serious case review" is general,
    # and so is a review meeting ("how often are CP review conferences").
    general = [
        n.topic
        for n in named
        if n.before in ("a", "an")
        or not REPORT_WORDS_SET & {*n.words, *n.after[:1]}
        or _a_meeting(n.words, n.after)
    ]
    meaning = knowledge.semantic.scores(query.corrected)
    topics = sorted(dict.fromkeys(general), key=lambda i: -meaning.get(i, 0.0))
    if not topics or meaning.get(topics[0], 0.0) < NAMED_NEAR:
        return decision
    why.note(f"rule: nothing else answers, and a topic is named ({meaning[topics[0]]:.2f})")
    return Decision("answer", (topics[0],), sure=False, others=tuple(topics[1:MAX_CHOICES]))


MEETINGS = frozenset("conference conferences meeting meetings".split())


def _a_meeting(name: tuple[str, ...], after: tuple[str, ...]) -> bool:
    """Whether the review a name is said with is a meeting ("cp review conferences")."""
    said = [*name, *after]
    ends = max(
        (i for i, w in enumerate(said[: len(name) + 1]) if w in REPORT_WORDS_SET), default=-1
    )
    return 0 <= ends < len(said) - 1 and said[ends + 1] in MEETINGS


def _by_check(knowledge: Knowledge, query: Query, decision: Decision, why: Why) -> Decision:
    """A yes/no question between near topics is answered by the one with a check that fits it:
    "if a case meets the LCSPR criteria does a review have to happen" is as near to the topic
    on reviews below the threshold as to the LCSPR's, whose check "is an lcspr automatic if the
    criteria are met" answers it."""
    candidates = [i for i in decision.ids + decision.others if i in knowledge.topics]
    fits = {
        i: check_fit(knowledge.topics[i], query, knowledge.text, knowledge.semantic.similarities)
        for i in candidates
    }
    best = max(candidates, key=lambda i: fits[i], default=None)
    current = decision.best
    if best is None or best == current or current is None:
        return decision
    if fits[best] < 1.0 or fits[best] - fits.get(current, 0.0) < CHECK_DECIDES:
        return decision
    why.note(f"rule: the yes/no check of a near topic fits ({fits[best]:.2f})")
    others = tuple(i for i in (current, *decision.others) if i != best)
    return Decision("answer", (best,), sure=False, others=others)


# --- small talk ------------------------------------------------------------------------------

GREETINGS = frozenset(
    ("hi hello hey hiya morning afternoon evening good yo greetings there").split()
)
# Thanks and acknowledgements, alone or together: "thanks, that's really helpful", "ok got it".
THANKS = frozenset(
    (
        "thanks thank you ta cheers thx many great lovely brilliant ok okay that s that's is "
        "was really very so much helpful useful perfect super fab excellent amazing cool nice "
        "kind for the your help info information got it noted understood appreciated all good "
        "makes sense"
    ).split()
)
# One of these makes a message of THANKS words an acknowledgement, not a question.
THANKING = frozenset(
    "thanks thank ta cheers thx helpful useful perfect brilliant great noted understood "
    "appreciated".split()
)


def _small_talk(query: Query) -> str | None:
    said = set(query.words)
    if not said:
        return None
    if said <= THANKS and said & THANKING:
        return "thanks"
    if said <= GREETINGS:
        return "greeting"
    return None


# --- what is not ours ------------------------------------------------------------------------


def _declined(knowledge: Knowledge, query: Query, decision: Decision, why: Why) -> Decision | None:
    """Casework, an adult's matter or anything else not ours, unless a document was named
    (a document only asked about gives way to one case told: "decide whether the Okafor family
    (kids Daniel 7 ...) should go to conference" names no review by "Daniel")."""
    asked_about = decision.outcome == "confirm" and not about_one_case(
        query.text, knowledge.index.knows
    )
    if (
        asked_about
        or decision.outcome == "about"
        or (
            decision.outcome != "confirm"
            and decision.best is not None
            and decision.best in knowledge.reports
        )
    ):
        return None
    meaning = knowledge.semantic.scores(query.corrected)
    best_topic = max((s for i, s in meaning.items() if i in knowledge.topics), default=0.0)
    found = knowledge.decline.classify(query.text, best_topic, knowledge.index.knows)
    if found is None:
        return None
    if (
        found.reason.startswith("meaning")
        and query.facet == "what"
        and knowledge.names.said(query.text, query.corrected)
    ):
        # "theyre doing a s47 on one of my pupils, what does that mean": near a case in
        # meaning, but it asks what a thing it names is, which a topic answers.
        why.note(f"not declined: {found.kind} by meaning, but a topic's name is asked about")
        return None
    why.note(f"not ours: {found.kind} ({found.reason})")
    if found.kind == "casework":
        # The general topic it touched on stays one tap away.
        topics = tuple(i for i in decision.ids if i in knowledge.topics)[:2]
        return Decision("casework", topics)
    # An adults' review: its topic stays one tap away, as a case's general topic does.
    topics = tuple(i for i in decision.ids if i in knowledge.topics)[:1]
    return Decision("decline", topics if found.kind == ADULT_REVIEW else (), kind=found.kind)


# "a copy of / the link to / the pdf of the ... report": a document is wanted.
ASKING_FOR = ("copy", "copies", "link", "pdf", "download")
REPORT_WORDS = ("report", "reports", "review", "reviews", "scr", "scrs", "briefing", "summary")
REPORT_WORDS_SET = frozenset(REPORT_WORDS)
WANTS_DOCUMENT = re.compile(
    rf"\b(?:{'|'.join(ASKING_FOR)})\b(?:\s+\w+){{0,6}}?\s+(?:{'|'.join(REPORT_WORDS)})\b"
)


def wants_unknown_document(knowledge: Knowledge, query: Query) -> bool:
    """Whether the question asks for a copy of, or a link to, a document named by a word the
    knowledge base does not have ("a copy of the child Q report"): no topic is that document,
    though its other words may touch one (reporting a concern). "A copy of the Working Together
    document" names only known words: its topic, with the current edition, is the answer."""
    if not WANTS_DOCUMENT.search(query.folded):
        return False
    return any(t not in ASKING_FOR and not knowledge.index.knows(t) for t in query.tokens)


# --- comparisons -----------------------------------------------------------------------------


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


# --- topics, conversations and documents -----------------------------------------------------


def ranked_entries(
    knowledge: Knowledge,
    text: str,
    words_found: SearchResult | None = None,
    query: Query | None = None,
    why: Why | None = None,
    text_bonus: dict[str, float] | None = None,
    agreed: set[str] | None = None,
) -> list[tuple[str, float]]:
    """Topics and actions, each with its fused score (0-1 and a little over), best first.
    `words_found` is the lexical matcher's result for `text`, when the caller has it; what the
    topics' own text added goes into `text_bonus` (a rule asks what the names alone say), and
    the topic both meaning and text put first into `agreed` (see AGREE_FLOOR)."""
    index = knowledge.index
    corrected = query.corrected if query is not None else index.corrected(text)
    combined = dict(knowledge.semantic.scores(corrected))
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
        if entry_id not in lexical:
            # No words: what the general case below gives with words_ = 0.0 (AGREE > 0, so
            # nothing added), without its calls; most entries, every question.
            scored[entry_id] = (0.0 if meaning < 0.0 else meaning) + 0
            continue
        words_ = lexical[entry_id]
        weaker = min(meaning, words_)
        scored[entry_id] = max(meaning, words_) + (TIE_BREAK * weaker if weaker >= AGREE else 0)
    for entry_id, score in lexical.items():
        scored.setdefault(entry_id, score)
    if query is not None:
        # The topics' own text: what a topic says, not only how it is asked for.
        text_scores = knowledge.text.scores(query)
        shares = knowledge.text.shares_of(query, text_scores)
        for entry_id, relative in text_scores.items():
            share = shares[entry_id]
            if share >= TEXT_SHARE:
                bonus = TEXT_WEIGHT * relative * share
                if relative == 1.0 and _text_alone(query, share):
                    bonus = max(bonus, ABSTAIN + 0.01 - scored.get(entry_id, 0.0))
                scored[entry_id] = scored.get(entry_id, 0.0) + bonus
                if text_bonus is not None:
                    text_bonus[entry_id] = bonus
        if agreed is not None:
            agreed.update(_agreed_on(knowledge, query, combined, text_scores))
        if why is not None:
            why.scores("words", lexical)
            why.scores("meaning", combined)
            why.scores("text", text_scores)
    ranked = sorted(scored.items(), key=lambda item: (-item[1], item[0]))
    if why is not None:
        why.scores("fused", ranked)
    return ranked


def _agreed_on(
    knowledge: Knowledge, query: Query, meaning: dict[str, float], text: dict[str, float]
) -> set[str]:
    """The topic both meaning and the topics' own text put clearly first (AGREE_FLOOR); or
    the text's first, when meaning has it as near as its own first, all but (AGREE_CLOSE)."""
    by_meaning = sorted(meaning.items(), key=lambda item: -item[1])[:2]
    by_text = sorted(text.values(), reverse=True)[:2]
    if not by_meaning or not by_text:
        return set()
    nearest, near = by_meaning[0]
    meaning_next = by_meaning[1][1] if len(by_meaning) > 1 else 0.0
    text_next = by_text[1] if len(by_text) > 1 else 0.0
    if (
        near >= AGREE_FLOOR
        and (
            near - meaning_next >= AGREE_LEAD
            or (text_next <= AGREE_TEXT_FAR and has_safeguarding_sign(query.corrected))
        )
        and text.get(nearest) == 1.0
        and text_next <= AGREE_TEXT_NEXT
        and knowledge.text.share_of(query, nearest, knowledge.place_words) >= AGREE_SHARE
    ):
        return {nearest}
    # "who is allowed to submit the serious incident notification? can our trust do it": the
    # text's first is the topic on the notification, which meaning has a hair behind a near
    # topic (and behind the action that starts one, which is no topic).
    text_first = max(text, key=lambda i: text[i])
    first_near = meaning.get(text_first, 0.0)
    nearest_topic = max((s for i, s in meaning.items() if i in knowledge.topics), default=0.0)
    if (
        text_first != nearest
        and first_near >= AGREE_FLOOR
        and nearest_topic - first_near <= AGREE_CLOSE
        and text_next <= AGREE_TEXT_NEXT_CLOSE
        and knowledge.text.share_of(query, text_first, knowledge.place_words) >= AGREE_SHARE
    ):
        return {text_first}
    return set()


def _text_alone(query: Query, share: float) -> bool:
    """Whether a topic's text has enough of a long enough question to stand on its own."""
    own = [t for t in query.tokens if t not in QUESTION_WORDS]
    return share >= TEXT_ALONE and len(own) >= TEXT_ALONE_WORDS


def _decide_one(
    knowledge: Knowledge, query: Query, why: Why, documents_named: bool = True
) -> Decision:
    """The decision on one question; with `documents_named` false, no document is looked up
    by name (a story's closing question: "does that need a review" names no report)."""
    text = query.text
    lexical = knowledge.index.search(text)
    best = lexical.best
    if (
        documents_named
        and lexical.decision == "answer"
        and best is not None
        and best.id in knowledge.reports
    ):
        why.note(f"document named: {best.id} {best.score:.0f}")
        return Decision("answer", (best.id,))
    documents: tuple[str, ...] = ()
    offered: list[str] = []  # the entries the name matcher offers as choices
    if documents_named and lexical.decision == "choices":
        offered = [m.id for m in choices_of(lexical)]
        documents = tuple(i for i in offered if i in knowledge.reports)
        if len(documents) == len(offered) and len(documents) > 1:
            fitting = [e.id for e in knowledge.index.fitting(text) if e.id in knowledge.reports]
            if len(fitting) > MAX_CHOICES:
                # More than the buttons hold: the choice is narrowed (knowledge/narrowing.py).
                why.note(f"documents: {len(fitting)} fit the name")
                return Decision("narrow", tuple(fitting))
            why.note("documents: several fit the name")
            return Decision("choices", documents)
        if documents and _names_document_kind(knowledge, text, documents):
            # "blank notification form", "slides on national scrs": a document is wanted.
            named = _named_outright(knowledge, text, documents)
            return Decision("answer", named) if named else _documents(documents)
        if documents and _asks_for_a_review(query) and offered[0] not in knowledge.reports:
            # A topic and a document share a name ("disabled children"), and the question
            # asks for a review or report: the documents of that name, asked, never guessed.
            why.note("rule: a review asked for by a name a topic shares")
            return _documents(documents)
    if len(documents) == 1 and not _names_in_earnest(knowledge, text, documents[0]):
        documents = ()  # "report a broken streetlight" is not Operation Brooke
    if len(documents) == 1 and _named_by_its_proper_name(knowledge, query, documents[0]):
        # "the hertfordshire one about sophie": the name fits weakly in a long question, but
        # a proper name of that review alone is in it: asked, before any topic is guessed.
        why.note("rule: a document named by a proper name of its review")
        return _documents(documents)
    text_bonus: dict[str, float] = {}
    agreed: set[str] = set()
    ranked = ranked_entries(knowledge, text, lexical, query, why, text_bonus, agreed)
    if (
        len(documents) == 1
        and len(offered) == 1
        and _asks_for_a_review(query)
        and ranked
        and ranked[0][0] not in knowledge.reports
    ):
        # The one name that fits, in earnest, and a kind of document asked for ("can u send me
        # the baby p scr"): asked, before a topic on the kind ("serious case review") is guessed.
        why.note("rule: the one document named, and a kind of document asked for")
        return _documents(documents)
    request = query.request
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
    if not documents and clear_lead(knowledge, query, ranked):
        return _guess(
            ranked, offered_flows, why, "a clear lead on a question with a sign of safeguarding"
        )
    if not ranked or ranked[0][1] < ABSTAIN:
        if not documents and ranked and ranked[0][0] in agreed:
            return _guess(ranked, offered_flows, why, AGREED)
        return _documents(documents)
    top_id = ranked[0][0]
    names_score = ranked[0][1] - text_bonus.get(top_id, 0.0)
    supported = _lexical_score(lexical, top_id) >= SUGGEST_CUTOFF or (
        top_id in knowledge.topics and _text_alone(query, knowledge.text.share_of(query, top_id))
    )
    if names_score < MEANING_ALONE and not supported:
        if not documents and top_id in agreed:
            return _guess(ranked, offered_flows, why, AGREED)
        runner = next((p for p in ranked[1:] if p[0] in agreed), None)
        if not documents and runner is not None and ranked[0][1] - runner[1] < CLOSE:
            # As near as the best, and the two signals agree on it: answered, the best behind
            # "Not what you meant?".
            return _guess([runner, *(p for p in ranked if p != runner)], offered_flows, why, AGREED)
        # Meaning alone, and not much of it: "the outcome of the strategy meeting" is near
        # a topic on disagreeing with decisions, but is a question about one case.
        why.note("rule: meaning alone, and not much of it")
        return _documents(documents)
    if request:
        # Asked to do something: a conversation that does it comes before a topic about it.
        actions = [(i, s) for i, s in ranked if i in knowledge.actions]
        if actions and ranked[0][1] - actions[0][1] < RUNNER_UP:
            ranked = [*actions[:1], *(pair for pair in ranked if pair != actions[0])]
    top_id, top = ranked[0]
    close = [i for i, s in ranked[1:] if s >= ABSTAIN and top - s < CLOSE]
    if close:
        tied = [top_id, *close]
        said = {n.topic for n in knowledge.names.said(text, query.corrected)} & set(tied)
        said &= {m.id for m in lexical.matches}
        if len(said) == 1:
            # One of the tied topics is named word for word, and the name matcher found it too
            # ("how do I refer a pupil to Prevent"): it is the one asked about, whatever the
            # nearer lines say.
            chosen = said.pop()
            why.note("rule: a tie broken by the topic named")
            others = tuple(i for i in tied if i != chosen)
            return Decision("answer", (chosen,), sure=False, others=others[: MAX_CHOICES - 1])
        leader = _supported_leader(knowledge, query, tied)
        if leader is None:
            return Decision("choices", (top_id, *close)[:MAX_CHOICES])
        # Tied on their nearest lines, but one has several lines near: answered, the others
        # one button away.
        why.note("rule: a tie broken by the nearer lines")
        others = tuple(i for i in (top_id, *close) if i != leader)[: MAX_CHOICES - 1]
        return Decision("answer", (leader,), sure=False, others=others)
    runners = [i for i, s in ranked[1:] if s >= ABSTAIN and top - s < RUNNER_UP]
    # A document whose name fits as well as the topic's is a runner-up, never a guessed link.
    runners += [d for d in documents if _lexical_score(lexical, d) >= SUGGEST_CUTOFF]
    others = tuple(dict.fromkeys([*offered_flows, *runners]))[: MAX_CHOICES - 1]
    return Decision("answer", (top_id,), sure=top >= SURE and not others, others=others)


AGREED = "meaning and the topic's own text agree"


def _guess(
    ranked: list[tuple[str, float]], offered_flows: list[str], why: Why, rule: str
) -> Decision:
    """The best of `ranked` answered as a guess (by `rule`): the near ones, and the
    conversations offered, behind "Not what you meant?"."""
    why.note(f"rule: {rule}")
    top_id, top = ranked[0]
    runners = [i for i, s in ranked[1:] if top - s < RUNNER_UP]
    others = tuple(dict.fromkeys([*offered_flows, *runners]))[: MAX_CHOICES - 1]
    return Decision("answer", (top_id,), sure=False, others=others)


def _asks_for_a_review(query: Query) -> bool:
    """Whether the question names a kind of document, typos corrected ("reveiw")."""
    return any(w in REPORT_WORDS for w in query.corrected.split())


# How much nearer an entry's best few lines must be, on average, to break a tie: the same
# figures from 0.03 to 0.08 on every set (docs/benchmarks.md).
SUPPORT_LEAD = 0.05


def _supported_leader(knowledge: Knowledge, query: Query, tied: list[str]) -> str | None:
    """Of entries tied on their best line, the one whose best few lines are clearly nearer."""
    support = knowledge.semantic.support(query.corrected, tied)
    if len(support) < len(tied):
        return None
    ordered = sorted(support.items(), key=lambda item: -item[1])
    # Only a topic: a conversation is never started on a tie broken by this.
    if ordered[0][1] - ordered[1][1] >= SUPPORT_LEAD and ordered[0][0] in knowledge.topics:
        return ordered[0][0]
    return None


def clear_lead(knowledge: Knowledge, query: Query, ranked: list[tuple[str, float]]) -> bool:
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
    return has_safeguarding_sign(query.corrected)


def has_safeguarding_sign(text: str) -> bool:
    """Whether `text` has a word only a question about children's safety would have."""
    return not SAFEGUARDING_SIGNS.isdisjoint(words(text))


def _tells_of_harm(said: Sequence[str]) -> bool:
    """A story of a child's harm (its folded words): a sign of safeguarding, a harm done, or
    an age."""
    return (
        not SAFEGUARDING_SIGNS.isdisjoint(said)
        or not HARM_DONE.isdisjoint(said)
        or AGE.search(" ".join(said)) is not None
    )


# What was done to a child in the stories that end in a process question ("15yo seriously
# assaulted by a gang, do we notify"), beyond SAFEGUARDING_SIGNS.
HARM_DONE = frozenset(
    """
    assault assaulted attacked stabbed stabbing killed murdered drowned shaken shaking
    fracture fractured fractures bruise bruises bruising burn burns burned scalded injuries
    overdose overdosed suicide strangled suffocated
    """.split()
)
AGE = re.compile(r"\b\d{1,2} ?(?:yo|yr|yrs|year|years|month|months|week|weeks|day)\b|\b\d{1,2}yo\b")


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
    parent worry worries worrying sw nfa
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


def _named_by_its_proper_name(knowledge: Knowledge, query: Query, document: str) -> bool:
    """Whether the question has a proper name of the document's review and of no other
    ("Sophie", "Hertfordshire"): learning.py's names."""
    record = knowledge.learning.record(document)
    return record is not None and knowledge.learning.named_by(query.words) == {record.id}


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
