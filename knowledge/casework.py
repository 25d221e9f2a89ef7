"""Messages about one particular child or family, or asking the assistant to act for someone.

"Is mia on a child protection plan", "the outcome of the section 47 on the baker family", "can
you chair the strategy discussion tomorrow": they use a topic's words, so the matcher would
answer with the topic, as if they were general questions. The assistant cannot see records or
act for anyone, and answering as if it could misleads; so these get their own reply
(handlers/questions.py `casework_reply`), which says so and points to the people who can.

The signs, each narrow so that general questions are never caught (every question of the
evaluation sets that expects a topic passes through untouched, tests/test_casework.py):
- a family or a child by name: "the jones children", "the Baker family", "the baker boy" (a word
  the knowledge base does not use, and not one of the words that describe families or children,
  "the whole family", "the foster family", "the eldest girl");
- a child's status: "is mia on a plan", "has he been referred", "is this child known to social
  care", "is sophie still in foster care", "has jayden had his return home interview" (not "is
  a child on a plan ...", "is there a ...": those are general);
- a child by initial, as records and reviews name them: "the rapid review for baby k" (not a
  letter the knowledge base uses, as "child j" names a published review);
- a request to act: "can you chair / book / ring / contact / write ...", "book me a room",
  "write my section 47 report";
- a look-up by name: "can you check whether kayden hollis has been on a plan";
- what happened at a meeting: "the outcome of the strategy meeting", "minutes from yesterday's";
- one child's or one day's meeting, plan or worker: "ruby's conference", "jayden's social
  worker", "today's core group" (a possessive the knowledge base does not use, and not a
  general one: "a child's plan", "the council's", "what's");
- where one child's referral, meeting or plan has got to: "has the referral for amira been
  accepted", "is the conference for jayden still on" (a name the knowledge base does not use,
  then a word of progress: not "is the referral for fgm mandatory");
- an adult by title and name: "did the lado ring back about mr jones" ("mr daniel price": a
  first name the knowledge base uses, then a surname it does not);
- what one meeting decided on a given day: "what did the core group decide on monday", "what
  was agreed at the conference yesterday", "what did last week's ICPC decide";
- a child's records handed over to be judged: "read these case notes and tell me ...";
- a decision on one open case: "should I close this case", "should we step the family down";
- a person by first name and surname, capitalised, inside the message: "was there a review on
  baby Noah Price", "what did the ICPC decide about Tyler Brown".
Pure and synchronous: no I/O, like knowledge/urgent.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from knowledge.search import words

# Words that stand before "family" or "children" without naming one.
NOT_A_FAMILY_NAME = frozenset(
    """
    other same whole wider extended foster birth host adoptive adopted new young younger older
    little small local affected vulnerable two three four five both all above following entire
    childs children said looked poor immediate biological blended step current previous
    fostered missing main real individual traveller travelling traveler gypsy roma refugee
    asylum migrant muslim jewish christian sikh hindu military armed forces service care rest
    child families parents parent first second next last my our your their his her its relevant
    concerned involved referring receiving these those such many most some disabled
    unaccompanied seeking displaced homeless deaf blind autistic send sen kinship connected
    teenage teen baby infant preschool primary secondary local average typical whole
    unborn eldest youngest oldest middle only index deceased pregnant murdered killed sick unwell
    premature newborn poorly crying sleeping injured bruised shaken dead stillborn tiny mobile
    immobile non pre twin breastfed bottle fed this that
    """.split()
)
FAMILY = re.compile(
    r"\bthe (?P<name>[a-z][a-z-]+) (?:family|familys|children|kids|siblings|twins|boys|girls|"
    r"household|brothers|sisters|boy|girl|lad|baby|babies|toddler)\b"
    # "the quentin family review" names a document: the document finder's question
    r"(?!\s+(?:report|review|briefing|scr|lcspr|summary|document|presentation)s?\b)"
)
# "is mia on a plan", "has he been referred": the subject is one child, not "a child" or a
# service ("is social care open to referrals" is a general question), nor the verb of "the
# child was made subject to a CP plan today, whats next".
GENERAL_SUBJECTS = frozenset(
    """
    there it a an any every each someone anyone somebody anybody everyone everybody children
    kids all the social early childrens camhs school schools police lado health nhs gp gps
    council services foster
    made put placed being
    """.split()
)
STATUS = re.compile(
    r"\b(?:is|are|was|were|has|have)\s+(?P<who>[a-z][a-z-]*(?:\s+[a-z][a-z-]*)?)\s+"
    r"(?:still\s+|already\s+|ever\s+|now\s+|currently\s+)?"
    r"(?:(?:on|under|subject to|been put on|been placed on|been made subject to)\s+"
    r"(?:(?:a|an|the)\s+)?(?:(?:child protection|cp|cin|child in need|protection)\s+)?"
    r"(?:plan|register)\b"
    r"|(?:known to|open to|been referred to)\s+(?:the\s+)?"
    r"(?:social care|childrens services|children s services|social services|early help|camhs|"
    r"police)\b"
    r"|been referred\b"
    # "is sophie still in foster care": where one child lives now
    r"|in\s+(?:foster\s+care|care|a\s+placement|placement)\b"
    # "has jayden had his return home interview": what has happened for one child
    r"|had\s+(?:his|her|their)\b)"
)
# "baby k", "child b": one child by initial. "a", "i" and "x" are words or stand for anyone
# ("a child i look after", "if child x discloses"). Published reviews name children so too
# ("the child q report", "lessons from child q"): a message about a document or its learning is
# the document finder's, so INITIAL counts only without PUBLISHED.
INITIAL = re.compile(
    r"\b(?:baby|child|young person|yp|sibling)\s+(?P<letter>[b-hj-wyz])\b(?!\s*[0-9])"
    r"(?!.*\b(?:review|reviews)\b)"
)
PUBLISHED = re.compile(
    r"\b(?:report|reports|briefing|summary|scr|scrs|lcspr|lessons|learning|learnt|learned|"
    r"findings|inquiry|published|copy)\b"
)
VERBS = (
    "chair|book|arrange|attend|ring|call|phone|invite|minute|schedule|organise|organize|set up|"
    "visit|speak to|talk to|contact|refer|email|write|draft"
)
ACT = re.compile(
    # "can you call 999" is not a task to decline: it goes on to the safety route's words
    rf"^(?:please\s+)?(?:can|could|will|would)\s+you\s+(?:please\s+)?(?:{VERBS})\s+"
    r"(?!me\b|us\b|999\b|101\b|(?:the\s+)?police\b|an ambulance\b)"
    r"|^(?:please\s+)?(?:book|arrange|schedule|organise|organize|set up)\s+(?:me|us|a|an)\b"
    # "write my section 47 report", "do our chronology": someone's own casework to produce
    # ("write a briefing on neglect" is not theirs, and is the learning asks' to answer)
    r"|^(?:please\s+)?(?:write|draft|do|complete|prepare|type up|write up)\s+(?:up\s+)?"
    r"(?:my|our)\b(?!.*\bnotification\b)"
    # "draft the s47 outcome letter for amira": one case's paperwork, whoever's it is
    r"|^(?:please\s+)?(?:write|draft|prepare|type up|write up)\s+(?:up\s+)?(?:the|a|an)\s+"
    r"(?:[a-z0-9-]+\s+){0,5}?(?:letter|chronology|minutes|statement|referral)\b"
)
# "can you check whether kayden hollis has been on a plan": a look-up in records nobody here can
# see, of someone by name (a word the knowledge base does not use, not "a child", "there").
LOOKUP = re.compile(
    r"\b(?:can|could|will|would)\s+you\s+(?:please\s+)?(?:check|look up|find out|search|see)"
    r"\s+(?:whether|if|for)\s+(?P<name>[a-z][a-z-]+)\b"
)
RESULT = re.compile(
    r"\b(?:outcome|result|minutes|decision|notes)\s+(?:of|from)\s+"
    r"(?:the|our|my|this|that|todays|yesterdays|last)\b|"
    # "please check the MASH outcome for Leah": a look-up of one child's result
    r"^(?:please\s+)?(?:check|look up|pull up|find out)\s+(?:the|her|his|their)\s+"
    r"(?:[a-z]+\s+){0,2}(?:outcome|result|decision|minutes|notes)\s+(?:for|on|about)\b"
)

# "ruby's conference", "today's core group": apostrophes are dropped before matching, so the
# possessive is a word ending in "s" that the knowledge base does not use, with or without it;
# not "-ous", "-ss", "-us", "-is", the endings of adjectives and nouns typed wrong ("serous
# case review"); and not "case", which follows too many such words.
POSSESSIVE = re.compile(
    r"\b(?P<name>[a-z]{2,}(?<![siu])s)\s+"
    r"(?:child protection (?:conference|plan)|cp (?:conference|plan)|core group|conference|"
    r"strategy (?:meeting|discussion)|cin (?:meeting|plan)|child in need (?:meeting|plan)|"
    r"review meeting|social worker|plan|referral|assessment|section 47|return home interview|"
    # one person's details: "ellie brown's foster carer's address"
    r"foster carers?|carers?|address|phone number|date of birth|dob|new school|placement|"
    r"chronology|file|records?|case notes|notes)\b"
)
# Words ending in "s" that stand before those nouns without naming a child or a day: the
# knowledge base does not use all of them ("the father's social worker" is a general question).
NOT_A_POSSESSOR = frozenset(
    """
    this whats thats its lets heres theres whos hows wheres his hers yours ours theirs ones
    someones anyones everyones somebodys anybodys everybodys is was has does goes as us yes
    fathers mothers dads mums siblings brothers sisters aunts uncles grandparents nans grans
    stepdads stepmums stepfathers stepmothers partners boyfriends girlfriends carers persons
    dsls slos iros sencos managers workers nurses doctors midwives teachers pupils students
    babys toddlers infants victims patients clients families adults peoples others
    """.split()
)

# "has the referral for amira been accepted": the progress of one child's referral, meeting or
# plan. A general question about such things asks what they are or whom they are for ("is the
# referral for fgm mandatory", "is the plan for a child in need reviewed"), not whether one has
# happened yet, so the name must be followed by a word of progress.
PROGRESS = re.compile(
    r"\b(?:is|are|was|were|has|have|did)\s+(?:the|his|her|their)\s+"
    r"(?:referral|conference|plan|assessment|core group|strategy (?:meeting|discussion)|"
    r"meeting|visit|section 47|return home interview|rhi)\s+(?:for|on|about)\s+"
    r"(?P<name>[a-z][a-z-]*)\s+(?:been|still|already|gone|got|happened|finished|done|"
    r"accepted|approved|closed|started|booked|sent|submitted|held)\b"
)

# "mr jones", "mrs patel": one adult, by title and a name the knowledge base does not use.
# Not "miss" (a verb too) nor "dr" ("the named dr for safeguarding").
# A first name the knowledge base uses ("mr daniel price": Daniel Pelka) is followed by the
# surname, which is looked at too.
TITLED = re.compile(
    r"\b(?:mr|mrs|ms|mx)\s+(?P<name>[a-z][a-z-]+)(?:\s+(?P<surname>[a-z][a-z-]+))?\b"
)
# What was decided or said on a given day: a past meeting, so one case.
DAY = (
    r"(?:on|last|this)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b|"
    r"\byesterdays?\b|\bthis morning\b|\blast weeks?\b"
)
DECIDED = re.compile(
    r"\b(?:what|did|was|were)\b.*\b(?:decide|decided|agree|agreed|happen|happened|discuss|"
    rf"discussed)\b.*(?:{DAY})|"
    # "what did last week's ICPC decide about ..."
    rf"\bwhat did (?:{DAY}).*\b(?:decide|agree|conclude|say)\b"
)
# "should I close this case", "step this family down?": a decision on one open case.
DECIDE = re.compile(
    r"\b(?:should|can|do|shall)\s+(?:i|we)\s+(?:close|step|end)\s+(?:this|the|my|our)\s+"
    r"(?:case|family|involvement)\b|"
    r"\bclose the case or\b|\b(?:this|the) (?:case|family) (?:be )?stepped (?:up|down)\b"
)
# "read these case notes and tell me ...": someone's records handed over to be judged.
RECORDS = re.compile(
    r"\b(?:read|review|look at|go through|check)\s+(?:these|this|my|our|the attached)\s+"
    r"(?:case\s+)?(?:notes|file|records|chronology|referral|assessment)\b"
)
# "Noah Price", "Tyler Brown": a person's first name and surname, as capitalised in the message
# and not its first words, neither of them a word of the knowledge base ("Working Together",
# "Star Hobson" are).
FULL_NAME = re.compile(r"\b([A-Z][a-z]+)\s+([A-Z][a-z]+(?:-[A-Z][a-z]+)?)\b")
SENTENCE_START = re.compile(r"(?:^|[.!?:;\-]\s*)$")


def about_one_case(text: str, known: Callable[[str], bool]) -> str | None:
    """Which sign shows that `text` is about one case ("family", "status", "initial", "act",
    "result", "lookup", "possessive", "progress", "titled", "decided", "records", "decide",
    "named"), or None for a general question.
    `known(word)`: whether the knowledge base uses the word (so "the pelka family" is a
    published case, not someone's casework)."""
    # The matcher's own words, with apostrophes dropped first ("yesterday's" -> "yesterdays"),
    # so punctuation never stands between the words a sign is made of ("is mia, on a plan?").
    folded = " ".join(words(text.replace("'", "").replace("\u2019", "")))
    family = FAMILY.search(folded)
    if family and family["name"] not in NOT_A_FAMILY_NAME and not known(family["name"]):
        return "family"
    status = STATUS.search(folded)
    if status and status["who"].split()[0] not in GENERAL_SUBJECTS:
        return "status"
    initial = INITIAL.search(folded)
    if initial and not known(initial["letter"]) and not PUBLISHED.search(folded):
        return "initial"
    if ACT.search(folded):
        return "act"
    if RESULT.search(folded):
        return "result"
    lookup = LOOKUP.search(folded)
    if lookup and lookup["name"] not in GENERAL_SUBJECTS and not known(lookup["name"]):
        return "lookup"
    for possessive in POSSESSIVE.finditer(folded):
        name = possessive["name"]
        if name not in NOT_A_POSSESSOR and not known(name) and not known(name[:-1]):
            return "possessive"
    progress = PROGRESS.search(folded)
    if progress and progress["name"] not in GENERAL_SUBJECTS and not known(progress["name"]):
        return "progress"
    titled = TITLED.search(folded)
    if titled and not all(known(n) for n in (titled["name"], titled["surname"]) if n):
        return "titled"
    if DECIDED.search(folded):
        return "decided"
    if RECORDS.search(folded):
        return "records"
    if DECIDE.search(folded):
        return "decide"
    if _full_name(text, known):
        return "named"
    return None


def _full_name(text: str, known: Callable[[str], bool]) -> bool:
    for found in FULL_NAME.finditer(text):
        if SENTENCE_START.search(text[: found.start()]):
            continue  # "Tyler Brown" may start a sentence; "Social Care" often does
        if not any(known(w) for w in words(found[0])):
            return True
    return False
