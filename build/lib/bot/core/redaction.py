"""Personal data out of text that is kept: names, dates, addresses, postcodes, phone numbers,
email addresses and NHS numbers become placeholders ("[name]", "[date]"...).

Used before a question the assistant could not answer is stored for the partnership to read.
It errs towards removing too much: a lost word in a question is a small price, a child's name
in a database is not. Names are the hard part, so several signs count: a title (Mrs Okafor),
"called"/"named" (a girl called amira), a capitalised word that does not start the message
(my pupil Tom), any word after a people word that is not a common word (my pupil tom), two
capitalised words in a row (Jayden Smith), and a capitalised first word followed by what a
name does in a sentence (Jayden told me). Acronyms (LADO, SCR) and the
words of the field that are usually capitalised (Working Together, Ofsted, Bedford) are kept.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# UK phones: 07700 900123, 01234 567 890, +44 (0)1234 567890, 0300-300-8123
PHONE = re.compile(r"(?:\+\s?44\s?(?:\(0\)\s?)?|\b0)\d(?:[\s-]?\d){8,9}\b")
# NHS numbers: ten digits, often 3-3-4; any other long run of digits may be a reference too.
NHS_NUMBER = re.compile(r"\b\d{3}[\s-]?\d{3}[\s-]?\d{4}\b")
LONG_NUMBER = re.compile(r"\b\d{6,}\b")
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
DATE = re.compile(
    r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b"  # 03/04/2015, 3.4.15
    r"|\b\d{4}-\d{2}-\d{2}\b"  # 2015-04-03
    # 3rd April 2015
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})\b\.?(?:,?\s+\d{{2,4}}\b)?"
    rf"|\b(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{2,4}}\b)?",  # April 3rd, 2015
    re.IGNORECASE,
)
STREET_WORDS = (
    "street|st|road|rd|avenue|ave|lane|ln|close|drive|dr|way|crescent|court|ct|place|pl|"
    "gardens|grove|terrace|hill|park|row|walk|square|mews|green|rise|view|parade|estate"
)
ADDRESS = re.compile(
    rf"\b(?:flat|apartment|unit)\s+\d+[a-z]?\b,?"
    rf"|\b\d+[a-z]?,?\s+(?:[A-Za-z'-]+\s+){{1,3}}(?:{STREET_WORDS})\b\.?",
    re.IGNORECASE,
)
TITLED = re.compile(r"\b(?i:mr|mrs|ms|miss|mx|dr|prof)\.?\s+[A-Za-z][\w'-]*(?:\s+[A-Z][\w'-]*)?")
CALLED = re.compile(
    r"\b(called|named|name is|name was|names are|known as|goes by)\s+"
    r"([A-Za-z][\w'-]*(?:\s+[A-Z][\w'-]*)?)",
    re.IGNORECASE,
)
WORD = re.compile(r"[A-Za-z][\w'-]*")

# Capitalised words that are not names: the field's names, places, days and months.
NOT_NAMES = frozenset(
    """
    i i'm i've i'd i'll ok
    monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    bedford bedfordshire borough luton kempston england uk britain wales scotland london
    council police ofsted nspcc nhs icb gov government department education dfe home office
    working together panel national review reviews serious case safeguarding partnership board
    local authority designated officer lead liaison rapid practice child children childrens
    death overview school academy nursery hospital gp act section regulations christmas easter
    telegram word pdf social care services service team emergency duty front door
    learning process significant incident notification keeping safe in parliament court
    family families early help mental health
    """.split()
)
# Words a message starts with that are not names: questions, pronouns, greetings, verbs.
STARTS = frozenset(
    """
    what whats what's how who whos who's when where why which is are was were can could do does
    did should would will shall may might must i i'm im a an the my our we you your he she they
    it there this that these those please hi hello hey thanks thank tell help need want looking
    find show give send report has have had any if in on at for after before about from
    urgent worried concern concerned one two three some all no not yes ok okay so and but or
    explain define list describe where's there's it's is there
    """.split()
)
# What a name is often followed by at the start of a message ("Jayden told me...").
AFTER_NAME = frozenset("told said says has is was had disclosed keeps came comes and".split())


# People words that a name often follows, in lowercase too ("my pupil tom", "her stepdad gary").
PEOPLE = frozenset(
    """
    pupil pupils student students child kid boy girl baby toddler son daughter stepson
    stepdaughter brother sister nephew niece cousin grandson granddaughter friend neighbour
    client patient mum mother dad father stepdad stepfather stepmum stepmother uncle aunt auntie
    grandad grandma nan boyfriend girlfriend partner husband wife carer colleague teacher
    learner resident
    """.split()
)
# What usually follows a people word when no name does: kept, so the question stays readable.
NOT_A_NAME_AFTER = frozenset(
    """
    is was has had have told tells said says who whom whose and or but at in on of to for from
    with without by about after before again also always never not no yes that which what when
    where why how if as so s the a an my his her their our your this these those is isnt wasnt
    hasnt hadnt doesnt didnt wont cant cannot will would can could should might may must being
    been be keeps kept came comes come went goes go got gets get seems seemed looks looked lives
    lived living attends attended needs needed wants wanted disclosed discloses made makes says
    aged age year years old just now still recently today yesterday tonight then there here it
    i me we us you he she they them him one two protection care services social worker workers
    abuse neglect death review reviews case cases died dies has refused refuses told hit hits
    hurt hurts touched touches showed shows asked asks mentioned appears appeared mum dad
    called named known do does did done need know knows knew think thinks thought feel feels
    felt say tell report reports reported refer referred want like likes liked take takes took
    give gives gave see sees saw seen find found leave left stay stays stayed live play plays
    plan plans meeting meetings record records safe unsafe missing alone home school nursery
    class group setting placement family families parent parents please
    """.split()
)


def _is_acronym(word: str) -> bool:
    return word.isupper() and len(word) <= 6


def _names(text: str) -> str:
    """Replace the words that look like names with [name]."""
    spans: list[tuple[int, int]] = []
    matches = list(WORD.finditer(text))
    for i, match in enumerate(matches):
        word = match.group()
        after_people = i > 0 and matches[i - 1].group().casefold() in PEOPLE
        if after_people and word.casefold() not in NOT_A_NAME_AFTER | PEOPLE | NOT_NAMES:
            spans.append(match.span())  # "my pupil tom": a name even in lowercase
            continue
        if not word[0].isupper() or _is_acronym(word) or word.casefold() in NOT_NAMES:
            continue
        if i == 0:
            following = matches[1].group() if len(matches) > 1 else ""
            first_is_name = word.casefold() not in STARTS and (
                following[:1].isupper() or following.casefold() in AFTER_NAME
            )
            if not first_is_name:
                continue
        spans.append(match.span())
    for start, end in reversed(spans):
        text = text[:start] + "[name]" + text[end:]
    # "[name] [name]" is one person: keep one placeholder.
    return re.sub(r"\[name\](?:[\s-]+\[name\])+", "[name]", text)


def redact(text: str) -> str:
    """`text` with personal data replaced by placeholders (see the module docstring)."""
    text = EMAIL.sub("[email]", text)
    text = PHONE.sub("[phone]", text)
    text = NHS_NUMBER.sub("[NHS number]", text)
    text = DATE.sub("[date]", text)
    text = POSTCODE.sub("[postcode]", text)
    text = ADDRESS.sub("[address]", text)
    text = LONG_NUMBER.sub("[number]", text)
    text = TITLED.sub("[name]", text)
    text = CALLED.sub(lambda m: f"{m.group(1)} [name]", text)
    return _names(text)
