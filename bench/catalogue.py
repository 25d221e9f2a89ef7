"""Synthetic report catalogues for the matcher benchmark.

Cases are generated the way boards publish them: a child (a letter code such as "Child K7", or a
first name), an area, a year, an author, sometimes a police operation, and one to three documents
per case (full report, executive summary, practitioner briefing) that share those aliases, plus
thematic reviews. The same seed gives the same catalogue, and a smaller catalogue is the start of
a bigger one, so one query set fits every size.

Surnames, places and operations are not drawn from short fixed lists, which would give a big
catalogue a vocabulary of a few hundred words: they are made from English name parts
("ash" + "er" + "worth", "thorn" + "bury") and drawn with a long tail, as real names are (a few
common, most rare), so that 100,000 documents have about 39,000 distinct words, as a national
catalogue would. Typo lookup cost grows with the vocabulary, not the document count.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from knowledge.search import SearchEntry

SEED = 20250314

FIRST_NAMES = (
    "aaliyah aaron abdul adam adrian aisha alfie alice amelia amir amy andre anna archie arlo "
    "arthur ava ayesha bella ben bethany billy bobby brandon caleb callum cameron carly casey "
    "charlie chloe connor courtney daisy dakota damian dana darcy darius declan demi dexter "
    "dominic eden eli elijah ellie elsie emily enzo erin ethan evie ezra faith felix finley "
    "florence frankie freddie gabriel george grace gracie hannah harley harrison harvey hasan "
    "hayden heidi henry holly hugo ibrahim imogen isaac isla ivy jack jacob jade jake jamal "
    "jasmine jayden jenson jessica joel jonah jordan joseph joshua jude kai kayden keira kian "
    "kyle lacey layla leah leo leon lewis liam lily logan lola louie luca lucas lucy luke maddie "
    "maisie malik mason matilda maya megan mia millie mohammed molly muhammad nathan niamh noah "
    "olivia ollie oscar owen paige phoebe poppy reggie riley robyn ronnie rosie ruby ryan sami "
    "samuel scarlett sienna skye sofia summer teddy theo thomas tia toby tommy tyler violet "
    "willow yusuf zac zara zoe"
).split()

SURNAMES = (
    "abbott ahmed ali allen anderson archer armstrong atkinson bailey baker ball barker barnes "
    "barrett bates bell bennett berry bird bishop black booth bradley brooks brown bryant burke "
    "burton butler campbell carr carter chambers chapman clarke cole collins cook cooper cox "
    "crawford cross dale davies dawson day dean dixon doyle duncan edwards ellis evans farrell "
    "fisher fleming fletcher ford foster fox francis fraser gardner gibson gilbert gill gordon "
    "graham grant gray green griffiths hall hamilton harding harper harris hart harvey hayes "
    "henderson hill hodgson holland holmes hopkins howard hudson hughes hunt hussain jackson "
    "james jenkins johnston jordan kaur kelly kennedy khalid knight lambert lane lawrence lawson "
    "lee lloyd lowe marsh marshall martin mason matthews mcdonald miller mills mitchell moore "
    "morgan morris murphy murray nash newman nicholson norris obrien owen palmer parker parry "
    "pearce pearson perry phillips poole porter powell price quinn read reid reynolds rhodes "
    "richards riley robertson robinson rogers rose ross russell ryan saunders scott sharp shaw "
    "simpson singh slater spencer stevens stewart stone sutton taylor thompson tucker turner "
    "wallace walsh ward watson webb wells west wheeler white wilkinson willis wood woods wright "
    "young"
).split()

AREAS = (
    "barnsley barnet bedford birmingham blackburn blackpool bolton bournemouth bracknell "
    "bradford brent brighton bristol bromley buckinghamshire bury calderdale cambridgeshire "
    "camden cheshire cornwall coventry croydon cumbria darlington derby derbyshire devon "
    "doncaster dorset dudley durham ealing enfield essex gateshead gloucestershire greenwich "
    "hackney halton hampshire haringey harrow hartlepool havering herefordshire hertfordshire "
    "hillingdon hounslow islington kent kingston kirklees knowsley lambeth lancashire leeds "
    "leicester leicestershire lewisham lincolnshire liverpool luton manchester medway merton "
    "middlesbrough newcastle newham norfolk northamptonshire northumberland nottingham "
    "nottinghamshire oldham oxfordshire peterborough plymouth portsmouth reading redbridge "
    "rochdale rotherham rutland salford sandwell sefton sheffield shropshire slough solihull "
    "somerset southampton southend southwark staffordshire stockport suffolk sunderland surrey "
    "sutton swindon tameside telford thurrock torbay trafford wakefield walsall waltham "
    "wandsworth warrington warwickshire westminster wigan wiltshire wirral wokingham "
    "wolverhampton worcestershire york"
).split()

OPERATIONS = (
    "alder ash aspen badger bittern blackbird bluebell bramble buzzard cedar chaffinch "
    "clematis condor cormorant curlew cypress dipper dunlin egret elm falcon fern finch "
    "foxglove gannet goldcrest goshawk grebe harrier hawthorn hazel heather heron holly "
    "hornbeam ibis jackdaw juniper kestrel kingfisher kite lapwing larch laurel linnet magpie "
    "mallard maple marigold martin merlin nightjar nuthatch oak oriole osprey owl peregrine "
    "pheasant plover poplar puffin raven redwing robin rowan sandpiper siskin skylark sparrow "
    "spruce starling swallow swift sycamore teal thistle thrush wagtail willow woodcock wren"
).split()

THEMES = (
    "neglect of disabled children",
    "adolescent neglect",
    "sudden unexpected infant deaths",
    "non-accidental head injury in babies",
    "child sexual exploitation",
    "criminal exploitation and county lines",
    "domestic abuse and coercive control",
    "parental mental health",
    "children missing education",
    "suicide and self-harm in young people",
    "online harm",
    "elective home education",
    "fabricated or induced illness",
    "bruising in non-mobile babies",
    "young carers",
)

LETTERS = "abcdefghjklmnpqrstuvwxyz"

# Name parts: an onset, a vowel, an optional coda, an ending. About 120,000 combinations.
_ONSETS = (
    "b bl br c ch cl cr d dr f fl fr g gl gr h j k l m n p pl pr r s sh sk st sw t th tr w wh wr y"
).split()
_VOWELS = "a e i o u ai ea ee oa oo ou ay".split()
_CODAS = [
    "",
    "b",
    "d",
    "g",
    "l",
    "ll",
    "m",
    "n",
    "nd",
    "ng",
    "r",
    "rn",
    "rt",
    "s",
    "sh",
    "t",
    "ck",
    "x",
]
_SURNAME_ENDINGS = (
    "son ton ley ford worth wood field man er by ham well ridge combe stead hurst more dale wick "
    "ington bury cott den ling ridge shaw kin lock mont win thorne"
).split()
_PLACE_ENDINGS = (
    "ham ford bury chester borough wich minster caster field by thorpe mouth stow".split()
)
SURNAME_POOL = 60_000  # distinct surnames that can occur
PLACE_POOL = 4_000
OPERATION_POOL = 6_000
_TAIL = 0.75  # how long the tail is (Zipf exponent): lower, more distinct names per draw


@dataclass(frozen=True)
class Case:
    label: str  # how the review names the child: "Child K7" or "Liam"
    child: str  # the child's full name as the press used it, or "" when never published
    surname: str
    area: str
    year: int
    author: str
    operation: str  # "" when no police operation is known


def _name(rng: random.Random, endings: list[str]) -> str:
    return rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) + rng.choice(endings)


class _Names:
    """A pool of made-up names, drawn with a long tail; the fixed lists come first (they are
    the commonest), so small catalogues look as before."""

    def __init__(self, seed: int, common: list[str], endings: list[str], size: int) -> None:
        rng = random.Random(seed)
        names = list(dict.fromkeys(common))
        seen = set(names)
        while len(names) < size:
            name = _name(rng, endings)
            if name not in seen:
                seen.add(name)
                names.append(name)
        self.names = names
        weights = [1.0 / (rank + 1) ** _TAIL for rank in range(size)]
        total = 0.0
        self._cumulative = []
        for weight in weights:
            total += weight
            self._cumulative.append(total)

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.names, cum_weights=self._cumulative)[0]


_SURNAMES = _Names(SEED + 10, SURNAMES, _SURNAME_ENDINGS, SURNAME_POOL)
_PLACES = _Names(SEED + 11, AREAS, _PLACE_ENDINGS, PLACE_POOL)
_OPERATIONS = _Names(SEED + 12, OPERATIONS, ["", "wing", "fall", "ridge"], OPERATION_POOL)


def _case(rng: random.Random, number: int) -> Case:
    first, surname = rng.choice(FIRST_NAMES), _SURNAMES.draw(rng)
    named = rng.random() < 0.45  # many reviews only ever give a letter code
    label = first.capitalize() if named else f"Child {rng.choice(LETTERS).upper()}{number % 97}"
    return Case(
        label=label,
        child=f"{first} {surname}" if named else "",
        surname=surname if named else "",
        area=_PLACES.draw(rng),
        year=rng.randint(2005, 2024),
        author=f"{rng.choice(FIRST_NAMES)} {_SURNAMES.draw(rng)}",
        operation=_OPERATIONS.draw(rng) if rng.random() < 0.15 else "",
    )


def _aliases(case: Case) -> tuple[str, ...]:
    aliases = [case.label.lower(), case.author]
    if case.child:
        first = case.child.split()[0]
        aliases += [case.child, case.surname, f"baby {first[0]}", f"{case.area} {first}"]
    if case.operation:
        aliases.append(f"operation {case.operation}")
    return tuple(aliases)


def _documents(rng: random.Random, case: Case, number: int) -> list[SearchEntry]:
    area = case.area.capitalize()
    aliases = _aliases(case)
    full_title = rng.choice(
        (
            f"Serious case review: {case.label}",
            f"{area} SCB serious case review - {case.label}",
            f"Local child safeguarding practice review: {case.label} ({area})",
        )
    )
    if case.operation:
        full_title = f"Operation {case.operation.capitalize()} serious case review ({area})"
    documents = [
        (full_title, "full report"),
        (f"{area} SCB executive summary - {case.label}", "executive summary"),
        (f"{case.label} - practitioner briefing", "practitioner briefing"),
    ]
    count = rng.choice((1, 1, 2, 3))
    facets = (("area", area), ("year", str(case.year)))
    return [
        SearchEntry(f"case-{number}-{i}", kind, (title, *aliases), facets)
        for i, (title, kind) in enumerate(documents[:count])
    ]


def _thematic(rng: random.Random, number: int) -> SearchEntry:
    theme, area = rng.choice(THEMES), _PLACES.draw(rng)
    title = f"Thematic review: {theme} ({area.capitalize()})"
    author = f"{rng.choice(FIRST_NAMES)} {_SURNAMES.draw(rng)}"
    year = str(2012 + number % 13)  # not drawn: the catalogue stays what it was
    return SearchEntry(
        f"thematic-{number}",
        "full report",
        (title, f"{area} {theme}", author),
        (("area", area.capitalize()), ("year", year)),
    )


def related(entry_id: str) -> str:
    """What relates documents: the case they are of ("case-12"), as reports.yaml relates the
    documents of one case (every document sharing an alias with another lists it in
    `related`, so its reply offers the others as buttons)."""
    return entry_id.rsplit("-", 1)[0] if entry_id.startswith("case-") else entry_id


def build_catalogue(size: int, seed: int = SEED) -> list[SearchEntry]:
    """`size` synthetic documents; the first n of a bigger catalogue are the smaller one."""
    rng = random.Random(seed)
    entries: list[SearchEntry] = []
    number = 0
    while len(entries) < size:
        number += 1
        if rng.random() < 0.08:
            entries.append(_thematic(rng, number))
        else:
            entries.extend(_documents(rng, _case(rng, number), number))
    return entries[:size]
