"""A free question, read once: `Query`. Every part of the decision reads this, never the text.

The text is cut to QUESTION_MAX, punctuation said to a phone's dictation is written as the
marks, and it is folded into words, its meaning-bearing tokens, and its typos corrected against
the knowledge base's vocabulary (for the semantic matcher, which has no notion of a typo). Then
what the question asks for is read from its form:

- `facet`: what kind of answer it wants (FACETS): "what" it is, "when" (how long, by when, how
  often), "who" (does it, decides, chairs), "how" (to refer, to do it), "next" (what happens
  after), "yesno" (do we still ..., is X needed ...), "compare" (X vs Y), or "" for a bare topic;
- `compared`: the things a comparison names ("the difference between an SCR and a SILP");
- `request`: whether it asks to do something ("I want to notify") rather than about it;
- `closing`: the short question that ends a story ("a toddler drowned in the bath, does that
  need a review"), for when the story's words drown the question (knowledge/decision.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.search import SearchIndex, tokens, words

# A question is a sentence or two; past this many characters only the start is matched. The
# matcher's and the case detector's patterns are not linear in the length of one message, and
# a pasted page (100,000 characters in the fuzz tests) took 25 seconds.
QUESTION_MAX = 1000

# Punctuation said aloud to a phone's dictation ("what is the lado question mark"): the marks
# themselves, so that their words neither dilute the question's meaning nor hide a list.
_SPOKEN = {"question mark": "?", "full stop": ".", "exclamation mark": "!", "comma": ","}
_SPOKEN_PUNCTUATION = re.compile(r"\s*\b(" + "|".join(_SPOKEN) + r")\b", re.IGNORECASE)

FACETS = ("what", "when", "who", "how", "next", "yesno", "compare")


@dataclass(frozen=True)
class Query:
    text: str  # as typed (cut, dictation's punctuation as marks)
    words: tuple[str, ...]  # folded words
    tokens: tuple[str, ...]  # filler dropped, abbreviations spelled out
    corrected: str  # typos replaced by the vocabulary word they most likely mean
    facet: str = ""  # one of FACETS, or "" (a bare topic)
    compared: tuple[str, ...] | None = None  # what a comparison names
    request: bool = False  # asks to do something, not about it
    closing: str | None = None  # the short question ending a story, if it is one

    @property
    def folded(self) -> str:
        return " ".join(self.words)


# A report's year as people write it: "2023/24", "2023-24", and for a report "23/24" (not "a
# 14/15 year old"): as titles say it, "2023 to 2024".
_FULL_YEARS = re.compile(r"\b(20\d\d)\s?[/-]\s?(?:20)?(\d\d)\b")
_SHORT_YEARS = re.compile(r"\b(\d\d)\s?/\s?(\d\d)\b(?!\s*(?:years?|yrs?|yo)\b)")
_A_REPORT = re.compile(r"\breports?\b", re.IGNORECASE)


def report_years(text: str) -> str:
    """`text` with a span of two years written as titles write it."""
    text = _FULL_YEARS.sub(lambda found: _span(int(found[1]), found[2]) or found[0], text)
    if _A_REPORT.search(text):
        text = _SHORT_YEARS.sub(
            lambda found: _span(2000 + int(found[1]), found[2]) or found[0], text
        )
    return text


def _span(first: int, second: str) -> str | None:
    """ "2023 to 2024" when `second` (its last two digits) is the year after `first`."""
    return f"{first} to {first + 1}" if int(second) == (first + 1) % 100 else None


def spoken_punctuation(text: str) -> str:
    """`text` with punctuation said aloud written as the marks."""
    return _SPOKEN_PUNCTUATION.sub(lambda found: _SPOKEN[found[1].lower()], text)


def read_query(text: str, index: SearchIndex) -> Query:
    """Read `text` once, for every signal and rule of the decision."""
    text = report_years(spoken_punctuation(text[:QUESTION_MAX]))
    folded = words(text)
    compared = compared_parts(text)
    return Query(
        text=text,
        words=tuple(folded),
        tokens=tuple(tokens(text)),
        corrected=index.corrected(text),
        facet="compare" if compared else facet_of(text),
        compared=tuple(compared) if compared else None,
        request=is_request(text),
        closing=closing_question(text),
    )


# --- the facet ---------------------------------------------------------------------------------

# Read on the folded words of the last sentence (a question after its context: "the DSP asked
# me to pull together info for the RR, what timescale are we working to"), then of the whole.
# First match wins, so the narrow come before the broad.
_FACET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "when",
        re.compile(
            r"\b(?:how long|how many (?:working |calendar )?(?:days|weeks|months|hours)|how soon|"
            r"how quickly|how often|how frequently|by when|what timescales?|timescales? for|"
            r"deadline|time ?limit|within how|what is the timescale|what are the timescales|"
            r"what are the time ?limits|how much notice|how far in advance|when did|"
            r"time ?frames?|time ?scales?|max(?:imum)? (?:time|length)|how many days|"
            r"when (?:do|does|should|must|will|is|are|would|can|did|has|have) "
            r"(?:we|i|you|they|it|the|a|an|my|our|schools?|partners?|parents?|carers?|"
            r"working together|kcsie|wt)\b)"
        ),
    ),
    (
        "next",
        re.compile(
            r"\b(?:what happens (?:next|after|now|then|once|when)|what next|next steps?|"
            r"what comes (?:next|after)|and then what|after (?:that|this) what|"
            r"what will happen (?:next|now|after)|(?:what s|whats|what is) (?:next|the next)|"
            r"next stage|what now|where do (?:we|i) go from here)\b"
        ),
    ),
    (
        "who",
        re.compile(
            r"(?:^|\b(?:and|so|but) )(?:who|whos|whose|whom)\b|\bwhich (?:agency|agencies|person|"
            r"people|team|body|bodies|organisation|organisations|professional|role|partner|"
            r"partners|service|officer)\b|\bwho (?:is|are|does|do|decides|sends|chairs|leads|"
            r"runs|notifies|appoints|can|should|must|inspects|carries|holds|sits|attends)\b"
        ),
    ),
    (
        "how",
        re.compile(
            r"\b(?:how (?:do|can|should|would|to) (?:i|we|you|someone|a|they|staff|schools?)|"
            # "how does a school refer ...": a practitioner's setting doing it, not "how does a
            # rapid review work", which asks what it is
            r"how does (?:a|the|our|my) (?:school|nursery|setting|college|gp|practice|teacher)\b|"
            r"how to|what (?:do|should|must) (?:i|we) do|where do (?:i|we)|steps? (?:to|for)|"
            r"process for|procedure for|how is (?:a|an|the) .{0,40} (?:made|done|referred)|"
            r"what is the (?:process|procedure|route))\b"
        ),
    ),
    (
        "yesno",
        re.compile(
            r"^(?:(?:so|and|but|ok|okay|hi|hello|quick question) )?(?:is|isn t|isnt|are|arent|"
            r"aren t|do|dont|don t|does|doesnt|doesn t|did|can|could|should|shouldnt|must|will|"
            r"would|has|have|am i|was|were|need|needs|may)\b|"
            # after a condition: "if a case meets the criteria is an LCSPR automatic"
            r"^if\b.{3,80}?\b(?:is|are|does|do|can|should|must|will|would|has|have) (?:a|an|"
            r"the|it|that|this|we|i|you|they|my|our|there|every|all)\b"
        ),
    ),
    (
        "what",
        re.compile(
            r"^(?:what is|what are|what s|whats|what was|what were|define|definition|meaning of|"
            r"explain|tell me about|describe)\b|\b(?:stand for|stands for|mean by|what does .{1,40}"
            r" mean|what is meant)\b"
        ),
    ),
)
_LAST_SENTENCE = re.compile(r"[.!?;:,\n]\s*(?=[^.!?;:,\n]*$)")


# A story, a dash between spaces, then a question: "care leaver aged 22 died - do we have to
# notify anyone?" asks yes or no. (A question before the dash is the one asked: "who should be
# our DSL - does it have to be a senior person?")
_DASH = re.compile(r"\s[-\u2013\u2014]+\s")


def facet_of(text: str) -> str:
    """The facet `text` asks for (FACETS), or "" when it names a topic and no more."""
    facet = _facet_of(text)
    if not facet and _DASH.search(text):
        # Not "what": "5 working days notification - what is it" is what the topic's opening
        # answers.
        after = _facet_of(_DASH.split(text)[-1])
        return "" if after == "what" else after
    return facet


# A question in the first clause that the second only narrows: "who should be the DSL, can it be
# a TA?" asks who.
_FIRST_CLAUSE = re.compile(r"[,;?]|\s[-\u2013\u2014]+\s")
_LEADING = frozenset(("who", "when"))


def _facet_of(text: str) -> str:
    whole = " ".join(words(text))
    first = " ".join(words(_FIRST_CLAUSE.split(text.strip(), maxsplit=1)[0]))
    if first != whole and first.split()[:1] in (["who"], ["when"], ["whos"]):
        for facet, pattern in _FACET_PATTERNS:
            if facet in _LEADING and pattern.search(first):
                return facet
    parts = _LAST_SENTENCE.split(text.strip().rstrip("?!. "))
    last = " ".join(words(parts[-1])) if parts else whole
    for candidate in (last, whole):
        for facet, pattern in _FACET_PATTERNS:
            if pattern.search(candidate):
                return facet
    return ""


# A story told before a short question: at least this many words of it, a question of at most
# CLOSING_MOST words after its last comma or full stop.
CLOSING_STORY = 4
CLOSING_MOST = 10


def closing_question(text: str) -> str | None:
    """The question that ends a story, when the message is one: "15yo seriously assaulted by
    a gang, do we notify" -> "do we notify". None for a message that is only a question."""
    parts = _LAST_SENTENCE.split(text.strip().rstrip("?!. "))
    if len(parts) < 2:
        return None
    story, question = words(parts[0]), words(parts[-1])
    if len(story) < CLOSING_STORY or not 2 <= len(question) <= CLOSING_MOST:
        return None
    return parts[-1].strip() if facet_of(parts[-1]) else None


# --- comparisons -------------------------------------------------------------------------------

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
_LIST_COMMA = "<comma>"
_VERSUS = re.compile(r"\b(?:vs|versus)\b")  # "x vs y vs z"
_LIST_BREAK = re.compile(r"[,;]|\s[-\u2013\u2014]+\s")
MAX_COMPARED = 3  # more than this is a list of topics, not a comparison
# "Is X the same as Y" asks yes or no: the comparison's first word is the answer, "No".
SAME_AS = re.compile(r"\b(?:the same (?:thing )?as|same thing|the same)\b")


def compared_parts(text: str) -> list[str] | None:
    """The things `text` compares: two halves, the first of which may be a list ("the
    difference between a rapid review, an lcspr and a silp"); None if it compares nothing."""
    # Commas are kept as a word of their own, since `words` drops them and they separate a list;
    # so is a dash between spaces ("CIN vs CP - what's the actual difference").
    pieces = (" ".join(words(piece)) for piece in _LIST_BREAK.split(text))
    folded = f" {_LIST_COMMA} ".join(piece for piece in pieces if piece)
    for pattern in _COMPARISON:
        found = pattern.search(folded)
        if found:
            # After the last "and", a comma ends the list: "x and y, please".
            listed = [*found["a"].split(_LIST_COMMA), found["b"].split(_LIST_COMMA)[0]]
            items = (item.strip() for part in listed for item in _VERSUS.split(part))
            return [item for item in items if item][:MAX_COMPARED]
    return None


# --- requests ----------------------------------------------------------------------------------


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
# "i need to know who decides", "how quickly should they decide and let me know".
_WANTS_TO_KNOW = re.compile(
    r"\b(?:want|need|would like|d like|like) to (?:know|understand|learn|find out|ask|read|hear)\b|"
    r"\blet (?:me|us) know\b"
)
# An order ("make a notification"), or a polite one ("can I make a notification?"); but "can
# I share information?" asks about something, and so does a name ("threshold check").
_POLITE_REQUEST = re.compile(
    r"^(?:please )?(?:(?:can|could|may) (?:i|we|you) (?:please )?)?"
    r"(?:make|start|submit|send|fill|notify|report|begin|run|open|complete|do a)\b"
)
