"""What a question asks of the learning from case reviews: `read_learning_ask`.

- "what did the Pelka review find", "lessons from Hamzah Khan": a review's findings;
- "what did the national review recommend after Arthur and Star": its recommendations;
- "reviews about neglect", "SCRs involving disabled children": the reviews on a theme;
- "what do reviews say about fathers", "learning about CSE", "lessons for schools": what
  recurs across the reviews on a theme, or for a sector;
- "7 minute briefing on professional curiosity", "a briefing on the Pelka review": a briefing.

A review is found by its name first, as every document is (search.py: never a guess). One
described by its story ("the review about the boy who starved in Coventry", knowledge/stories.py)
is asked back ("Do you mean ...?"), or, when the story fits it beyond doubt (or agrees with a
name the matcher offered), answered with what it found, the review named first; a copy asked
for is always asked back first. Pure: the decision (knowledge/decision.py) asks this first.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from knowledge.learning import Learning
from knowledge.query import Query, read_query
from knowledge.search import SearchIndex, choices_of, stem, words
from knowledge.stories import REVIEW_TALK, stories_of

FINDINGS = "findings"
RECOMMENDATIONS = "recommendations"
REVIEWS = "reviews"
RECURRING = "recurring"
BRIEFING = "briefing"


@dataclass(frozen=True)
class LearningAsk:
    want: str  # FINDINGS, RECOMMENDATIONS, REVIEWS, RECURRING or BRIEFING
    review: str | None = None  # a review named (its record's id)
    theme: str | None = None
    sector: str | None = None
    scope: str = ""  # "national", "local" or "" (both)
    guessed: tuple[str, ...] = ()  # reviews the question may describe, not name: to ask
    # What the question is about beyond the review's name ("bruising", "nursery"): stems that
    # put the review's points on it first.
    focus: frozenset[str] = frozenset()
    several: tuple[str, ...] = ()  # reviews named together ("the rochdale SCRs"): FINDINGS
    described: bool = False  # `review` was found by its story (knowledge/stories.py), not named
    document: bool = False  # a `guessed` review's document is asked for, not its learning


_SEVEN_MINUTES = re.compile(r"\b(?:7|seven)\s?min(?:ute)?s?\b.{0,20}\bbriefings?\b")
_BRIEFING_ON = re.compile(r"\bbriefing (?:on|about)\b")
_BRIEFING_SUBJECT = re.compile(r"\bbriefing (?:on|about) (?:the )?(?P<what>.{3,60}?) for \w")
# "a briefing for governors on the Somerset review", "a briefing on the Arthur and Star review
# for police colleagues", "put together a short briefing on Patrick": for an audience, or
# asked to be made, so composed, not the catalogue's own briefing document.
_BRIEFING_FOR = re.compile(
    r"\bbriefing for (?!(?:\w+ ){0,2}(?:reviews?|scrs?|reports?|inquiry)\b)"
    r"(?:\w+ ){1,3}(?:on|about)\b|"
    r"\bbriefing (?:on|about) .{3,60}\bfor (?:our |my |the |your )?(?:\w+ ){0,2}(?:team|colleagues|"
    r"staff|governors|teachers|officers|workers|nurses|gps|police|practitioners|meeting)\b|"
    r"\b(?:put together|write|make|create|prepare|draft|give) (?:me |us )?(?:a |an )?(?:short |"
    r"quick |brief )?briefing\b|"
    # "key messages for my team about dads": a briefing in all but name.
    r"\b(?:key |main )?(?:messages|points|takeaways) for (?:my |our |the )(?:\w+ ){0,2}"
    r"(?:team|staff|colleagues|meeting|practitioners)\b"
)
_RECOMMEND = re.compile(
    r"\brecommend(?:s|ed|ations?)?\b|"
    r"\bwhat (?:has |have )?changed(?: \w+)? (?:after|since|because)\b|"
    r"\bwhat came (?:out )?of\b|"
    # "what is the board going to do after patrick", "the 3 areas it said it would improve"
    r"\b(?:going to|will|would|said it would|plans? to) (?:do|change|improve)\b|"
    r"\bimprovement areas?\b|\bareas? (?:for|of|to) improve(?:ment)?\b|\baction plan\b|"
    # "what is the board improving after the patrick scr"
    r"\b(?:improving|improved|changing) (?:after|since|following)\b"
)
_FINDINGS = re.compile(
    r"\b(?:find|finds|found|findings|conclude|concluded|conclusions?|lessons?|learning|learnt|"
    r"learned|learn|failings|failures|mistakes|key points|went wrong|summary of|summari[sz]e|"
    r"(?:main|key) messages|themes|"
    r"takeaways?|take (?:away )?from|what happened (?:there|in|at|with)|"
    r"what did .{1,60} (?:say|show)|"
    r"what does .{1,60} (?:say|show))\b"
)
_REVIEWS_OF = re.compile(
    r"\b(?:reviews|scrs|lcsprs|cases|inquiries|reports)\b.{0,30}\b(?:about|on|involving|into|"
    r"where|with|concerning|relating to|around|featuring|in which|that involved|involved)\b|"
    r"\b(?:which|any|what) (?:case )?(?:reviews|scrs|lcsprs)\b|"
    # "sexual abuse within families - is there a national review"
    r"\bis there (?:a|an|any) (?:national |local |panel )?(?:review|scr|lcspr|inquiry)s?\b|"
    # "domestic abuse as a theme in the reviews - which ones?"
    r"\bin (?:the )?(?:case )?(?:reviews|scrs|lcsprs)\b.{0,20}\bwhich\b"
)
_RECURRING = re.compile(
    r"\bwhat (?:do|did|have) (?:the )?(?:\w+ ){0,2}(?:reviews|scrs|lcsprs) "
    r"(?:say|said|tell us|told us|show|shown|find|found|keep saying|keep finding)\b|"
    # "county lines - has the national panel said anything"
    r"\bhas the (?:national )?panel (?:said|found|published|written)\b|"
    r"\b(?:learning|lessons|themes) (?:about|on|around|for|from (?:the )?(?:case |serious case |"
    r"national |local )?(?:reviews|scrs|lcsprs))\b|"
    r"\bwhat have (?:we|reviews) learn(?:t|ed)\b|\bkey learning (?:from|about|on)\b|"
    # "disguised compliance examples from the reviews"
    r"\b(?:examples?|lessons?|learning|themes?|findings) (?:from|in|across) (?:the )?"
    r"(?:case |serious case |national |local )?(?:reviews|scrs|lcsprs)\b|"
    # "cse reviews - what are the common lessons"
    r"\b(?:common|shared|recurring) (?:lessons|themes|learning|messages|findings)\b|"
    r"\bfound in common\b|\bhave in common\b"
)
# The reviews as where something is found ("failures across the reviews", "in the SCRs"), not
# as the subject ("do we still use individual management reviews").
_ACROSS_REVIEWS = re.compile(
    r"\b(?:in|across|from|throughout) (?:the |our |all )?(?:case |serious case |national |local )?"
    r"(?:reviews|scrs|lcsprs)\b"
)
_ABOUT_REVIEWS = re.compile(r"\b(?:reviews|scrs|lcsprs|case reviews|inquiries)\b")
# A review described rather than named ("the review about the boy who starved in Coventry").
# "the 2014 inquiry into ...", "the national review on ...", "panel review of ...": a year or a
# kind may say which.
_DESCRIBED = re.compile(
    r"\b(?:(?:the|that) (?:(?:19|20)\d\d |national |local |thematic |panel s |panels )?|"
    r"(?:panel s|panels|panel|national) )"
    r"(?:review|scr|report|inquiry|one)\b.{0,12}"
    r"\b(?:about|where|into|on|of)\b"
)
# A review asked about, though not named ("bedford SCR 2016 about a disabled young man").
_REVIEW_WORD = re.compile(r"\b(?:reviews?|scrs?|lcsprs?|csprs?|inquiry|inquiries)\b")
# A review or one of its documents asked for ("the hertfordshire one about sophie").
_A_REVIEW = re.compile(
    r"\b(?:reviews?|scrs?|reports?|inquiry|case|summary|briefing|presentation|powerpoint|"
    r"slides|pdf|link|the (?:\w+ )?one)\b"
)
# What is asked of a process, not of a review told by its story ("who decides", "what happens
# next", "does that need a review", "X vs Y").
_PROCESS_FACETS = frozenset(("when", "who", "how", "next", "yesno", "compare"))
# A copy of a document asked for ("can I have", "send me", "the link to").
_DOCUMENT_WANTED = re.compile(
    r"\b(?:send|copy|copies|link|pdf|download|where (?:is|can i find|do i find)|"
    r"can (?:i|we|you) (?:have|get|find)|find me|looking for|got a copy)\b"
)
SEVERAL_MAX = 4  # reviews named together whose findings are given side by side


def read_learning_ask(
    learning: Learning,
    index: SearchIndex,
    query: Query,
    ordinary: Callable[[str], bool] = lambda stem: False,
) -> LearningAsk | None:
    """What `query` asks of the learning from reviews, or None when it asks nothing of it.
    `ordinary` says whether a stem is a topic's word (a review's story needs one that is not)."""
    if not learning.reviews:
        return None
    text = query.folded
    # A theme typed wrong ("professional curiousity") is found in the corrected words.
    found_theme = learning.theme_in(text) or learning.theme_in(query.corrected)
    found_sector = learning.sector_in(text)
    theme = found_theme.id if found_theme else None
    sector = found_sector.id if found_sector else None
    scope = "national" if re.search(r"\bnational\b", text) else ""
    scope = "local" if re.search(r"\b(?:local|our|bedford)\b", text) and not scope else scope
    # What recurs is narrowed only when asked outright ("learning from national reviews"): "our
    # caseload" says whose families, not which reviews.
    narrowed = scope if re.search(r"\b(?:national|local)\b", text) else ""
    found = _named_review(learning, index, query)
    named, own_name = found.review, found.own_name
    focus = _focus(query, own_name) | (
        frozenset(stem(w) for p in found_sector.words for w in p.split())
        if found_sector
        else frozenset()
    )
    if (
        _SEVEN_MINUTES.search(text)
        or _BRIEFING_FOR.search(text)
        or (_BRIEFING_ON.search(text) and not named)
    ):
        # "a briefing on the Patrick review" is the catalogue's briefing; "a 7-minute briefing
        # on it", one for an audience or asked to be made (_BRIEFING_FOR), or "a briefing on
        # neglect", is composed.
        subject = _BRIEFING_SUBJECT.search(text)
        if named is None and subject:
            # "7 minute briefing on out of routine for our early help team": the review is
            # named before the audience, whose words ("early help") name a topic too.
            named = _named_review(learning, index, read_query(subject["what"], index)).review
        if named or theme or sector:
            return LearningAsk(BRIEFING, named, theme, sector, focus=focus)
        return None
    if named is not None:
        # The words of the document's own name do not ask for its findings: "Child J lessons
        # learned" and "learning for GPs from case reviews" are documents so named.
        asked = " ".join(w for w in query.words if w not in own_name)
        if _RECOMMEND.search(asked):
            return LearningAsk(RECOMMENDATIONS, named, focus=focus)
        if _FINDINGS.search(asked):
            return LearningAsk(FINDINGS, named, focus=focus)
        if not found.whole and _A_REVIEW.search(text):
            # "the bristol review about teenage girls being groomed": a review meant by one
            # of its names, not the whole of one: asked, never linked.
            return LearningAsk(FINDINGS, guessed=(named,))
        return None  # a document asked for by name: the catalogue's reply
    recommend = bool(_RECOMMEND.search(text))
    if 1 < len(found.several) <= SEVERAL_MAX and (_FINDINGS.search(text) or recommend):
        # "what did the rochdale SCRs find", "what did the hesley reviews recommend": each
        # review's points, side by side.
        several = tuple(sorted(found.several))
        return LearningAsk(RECOMMENDATIONS if recommend else FINDINGS, several=several, focus=focus)
    # "learning about CSE" asks of the reviews; "learning for schools" only when it says so
    # ("lessons for schools from case reviews"), not "there's learning for schools here".
    if _RECURRING.search(text) and (theme or (sector and _ABOUT_REVIEWS.search(text))):
        return LearningAsk(RECURRING, theme=theme, sector=sector, scope=narrowed)
    if _REVIEWS_OF.search(text) and theme:
        return LearningAsk(REVIEWS, theme=theme, sector=sector, scope=scope)
    if theme and _ACROSS_REVIEWS.search(text):
        # A theme and the reviews, asked some other way: "info sharing failures across the
        # reviews", "the child being invisible in the SCRs".
        return LearningAsk(RECURRING, theme=theme, sector=sector, scope=narrowed)
    told = None
    if _DESCRIBED.search(text):
        told = stories_of(learning).described(query.tokens)
    elif query.facet not in _PROCESS_FACETS and (
        _REVIEW_WORD.search(text) or _FINDINGS.search(text)
    ):
        # Not said to be a review's story ("bedford SCR 2016 about a disabled young man"): it
        # must have a word particular to a story, which no topic's text has, unless a name
        # fits too (below, only a document it offers counts).
        particular = None if found.documents else ordinary
        told = stories_of(learning).described(query.tokens, particular)
    if told is not None and found.documents:
        # A document's name fits too. A story that is another's is no sign ("the one about
        # grooming in rochdale" is the choice of the two Rochdale reviews, not a guess between
        # them); one that agrees with a document offered ("what did the second national SCR
        # panel report recommend") is two signs of one review: its learning is answered (a
        # document is still asked about).
        agrees = told.review in found.offered and not found.sure
        told = dataclasses.replace(told, sure=True) if agrees else None
    if told is not None:
        learnt = recommend or bool(_FINDINGS.search(text))
        want = RECOMMENDATIONS if recommend else FINDINGS
        if told.sure and (learnt or not _DOCUMENT_WANTED.search(text)):
            # "solihull 6 yr old killed by his stepmum 2020 - what was learnt", "the herts
            # review about the 4yo girl killed by her dad": answered with what it found, the
            # review named first so that a wrong one is seen at once. A copy asked for is asked
            # about first.
            return LearningAsk(want, told.review, described=True)
        return LearningAsk(want, guessed=(told.review,), document=not learnt)
    return None


@dataclass(frozen=True)
class _Named:
    review: str | None = None  # the record of the review named
    own_name: frozenset[str] = frozenset()  # the words of the names that named it
    whole: bool = False  # a whole name fitted (else one proper name of its title or area)
    offered: frozenset[str] = frozenset()  # the reviews' documents the name matcher offered
    sure: bool = False  # ... one of them surely (its own reply links it)
    several: frozenset[str] = frozenset()  # records named by proper names, when more than one

    @property
    def documents(self) -> bool:
        """Whether the name matcher offered a review's document, named or not."""
        return bool(self.offered)


def _named_review(learning: Learning, index: SearchIndex, query: Query) -> _Named:
    """The review the question names, when the name matcher is sure of it (never a guess),
    or when one proper name of one review's title or area is in the question."""
    result = index.search(query.text)
    best = result.best
    matches = []
    if result.decision == "answer" and best is not None:
        matches = [best.id]
    elif result.decision == "choices":
        matches = [m.id for m in choices_of(result)]
    records = {learning.record(m) for m in matches}
    offered = frozenset(m for m in matches if m in learning.reviews)
    sure = result.decision == "answer" and bool(offered)
    carried = learning.carried_by(matches[0]) if len(matches) == 1 else ()
    if len(carried) > 1:
        # "what's in the national SCRs presentation": the reviews it carries, side by side.
        return _Named(offered=offered, sure=sure, several=frozenset(carried))
    by_name = learning.named_by(query.words)
    told = _told_apart(learning, by_name, query.words)
    by_name = {told} if told else by_name
    if len(by_name) > 1:
        # "lessons from the CSE reviews (rochdale, oxford, bristol)": several reviews named.
        return _Named(offered=offered, sure=sure, several=frozenset(by_name))
    if len(records) == 1 and None not in records:
        record = records.pop()
        assert record is not None
        own = frozenset(w for m in matches for w in index.name_words(m))
        return _Named(record.id, own, whole=True, offered=offered, sure=sure)
    # Several reviews, a topic among them, or no name fitting whole: a review is named only by
    # a proper name of its title that no other record has ("Arthur and Star", where a topic
    # shares the name; "the Patrick review for adult services staff", too long to fit whole).
    fitting = {r.id for r in records if r is not None}
    if len(by_name) == 1 and (not fitting or by_name <= fitting):
        record_id = next(iter(by_name))
        own = frozenset(words(learning.reviews[record_id].title))
        return _Named(record_id, own, offered=offered, sure=sure)
    return _Named(offered=offered, sure=sure)


def _told_apart(learning: Learning, named: set[str], said: Iterable[str]) -> str | None:
    """The one of the records a shared name names whose own words the question has, when
    it has no other's ("the hesley review, phase 1"; not "rochdale, young people 1-6 and
    young person 7")."""
    said = set(said)
    if not any(learning.names.get(w) == named for w in said):
        return None  # named by several names ("rochdale, oxford, derby"), each meant
    titles = {r: set(words(learning.reviews[r].title)) for r in named}
    told = [r for r, own in titles.items()
            if said & (own - set().union(*(t for o, t in titles.items() if o != r)))]  # fmt: skip
    return told[0] if len(told) == 1 and len(named) > 1 else None


def _focus(query: Query, own_name: frozenset[str]) -> frozenset[str]:
    """The question's own words beyond the review's name and the words every question about
    reviews has, stemmed."""
    name = {stem(w) for w in own_name}
    return frozenset(
        stem(t) for t in query.tokens if len(t) > 3 and stem(t) not in REVIEW_TALK | name
    )
