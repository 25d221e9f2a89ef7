"""Is this message a live concern about a child? A pure detector over knowledge/urgent.yaml.

A live concern ("she told me her stepdad hits her", "a 14 year old hasn't come home") must get
the safety route before anything else, so the detector is tuned for recall: it looks for the
parts of a concern (a child, a harm, a disclosure, a worker accused, a child missing now...)
rather than for whole sentences. Knowledge questions ("what does the LADO stand for", "signs
of child sexual exploitation") are kept out by a second test: a message framed as a question
about guidance, reviews or definitions is not urgent unless it also carries a sign of a real,
present case (a disclosure, an age, "my pupil", "tonight").

The phrase lists and rules are data (urgent.yaml), validated at load like every knowledge file:

    groups:   name -> phrases. A phrase is folded words in order; `word*` matches any word that
              starts with `word`; `<number>` matches a number ("<number> year old"); `a|b` matches
              either word ("hits|hit her|him").
    kinds:    in priority order. Each has `rules` (lists of group names: a rule matches when
              every group in it matches somewhere in the message), `lead` (the contact key the
              reply leads with, after 999), `more` (topic ids for the "More" button, the
              first that exists is used) and `advice` (one sentence on what to do).
    framing:  `knowledge` groups that make a message a knowledge question, and `live` groups
              whose presence overrides that; `settled` rules (lists of groups; `-group`: that
              group absent) that make a message not live whatever else it has (a worry about
              oneself; a process question about something past and in hand), answered with
              one safety line.
    semantic: when the rules find nothing, a second opinion by meaning (urgent_meaning.py):
              `signals` (groups, one of which must be present), `kind` (the kind given),
              `margin` and `neighbours`; examples in urgent_examples.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from config.settings import CONTACT_KEYS
from config.validation import Problems, load_yaml
from knowledge.search import fold
from knowledge.urgent_meaning import UrgentMeaning

FILE = "urgent.yaml"
EXAMPLES_FILE = "urgent_examples.yaml"
ADVICE_MAX = 200
DEFAULT_DIRECTORY = Path(__file__).resolve().parent

# Apostrophes are dropped, not turned into spaces: "mum's" -> "mums", "hasn't" -> "hasnt".
_APOSTROPHES = re.compile(r"['’‘`]")
_WORD = re.compile(r"[a-z]+|[0-9]+")
_PHRASE_WORD = re.compile(r"^(?:[a-z0-9]+\*?|<number>)(?:\|(?:[a-z0-9]+\*?|<number>))*$")
NUMBER = "<number>"


def message_words(text: str) -> list[str]:
    """The folded words of a message, apostrophes dropped."""
    return _WORD.findall(fold(_APOSTROPHES.sub("", text)))


# One part of a phrase: the words it matches exactly, the prefixes (`word*`) a word may start
# with, and whether any number (`<number>`) matches it.
Part = tuple[frozenset[str], tuple[str, ...], bool]


def _part(part: str) -> Part:
    alternatives = part.split("|")
    exact = frozenset(a for a in alternatives if a != NUMBER and not a.endswith("*"))
    prefixes = tuple(a[:-1] for a in alternatives if a.endswith("*"))
    return exact, prefixes, NUMBER in alternatives


def _matches(part: Part, word: str) -> bool:
    exact, prefixes, number = part
    return word in exact or word.startswith(prefixes) or (number and word.isdigit())


class Phrases:
    """One group's phrases, found in a message's words. A phrase's parts match consecutive
    words, each word whole: one of the part's words, a word starting with one of its `word*`
    prefixes, or a number for `<number>` (a message's words are all letters or all digits).

    This is what one regular expression of all the phrases on word boundaries would find
    (tests/test_urgent.py compares them), without compiling it: compiling the groups a message
    needed took a twentieth of `ask`."""

    def __init__(self, phrases: tuple[str, ...]) -> None:
        # Each phrase's first part looked up by the message's word (or the word's first
        # letters, for a prefix), so a word is checked against a few phrases, not all of them.
        self._by_word: dict[str, list[tuple[Part, ...]]] = {}
        self._by_prefix: dict[str, list[tuple[Part, ...]]] = {}
        self._after_number: list[tuple[Part, ...]] = []
        for phrase in phrases:
            parts = tuple(_part(part) for part in phrase.split())
            exact, prefixes, number = parts[0]
            for word in exact:
                self._by_word.setdefault(word, []).append(parts[1:])
            for prefix in prefixes:
                self._by_prefix.setdefault(prefix, []).append(parts[1:])
            if number:
                self._after_number.append(parts[1:])
        self._lengths = sorted({len(prefix) for prefix in self._by_prefix})

    def search(self, said: Sequence[str], places: Iterable[int]) -> bool:
        """Whether one of the phrases occurs in the message's words `said`, beginning at one
        of `places` (word numbers: where `Starts` found a word that can begin one)."""
        for i in places:
            for rest in self._starting(said[i]):
                if i + len(rest) < len(said) and all(
                    _matches(part, said[i + 1 + k]) for k, part in enumerate(rest)
                ):
                    return True
        return False

    def _starting(self, word: str) -> Iterator[tuple[Part, ...]]:
        """The rest of each phrase whose first part matches `word`."""
        yield from self._by_word.get(word, ())
        for length in self._lengths:
            if length > len(word):
                break
            yield from self._by_prefix.get(word[:length], ())
        if self._after_number and word.isdigit():
            yield from self._after_number


class GroupPhrases(Mapping[str, Phrases]):
    """Each group's phrases, read into a `Phrases` when the group is first searched (a message
    is searched for a handful of the forty: `Starts`)."""

    def __init__(self, phrases: dict[str, tuple[str, ...]]) -> None:
        self.phrases = phrases
        self._read: dict[str, Phrases] = {}

    def __getitem__(self, name: str) -> Phrases:
        read = self._read.get(name)
        if read is None:
            read = self._read[name] = Phrases(self.phrases[name])
        return read

    def __contains__(self, name: object) -> bool:
        return name in self.phrases

    def __iter__(self) -> Iterator[str]:
        return iter(self.phrases)

    def __len__(self) -> int:
        return len(self.phrases)


@dataclass(frozen=True)
class Kind:
    """One kind of live concern: how it is recognised and what the reply leads with."""

    id: str
    lead: str
    more: tuple[str, ...]
    rules: tuple[tuple[str, ...], ...]
    advice: str = ""  # one sentence on what to do, shown in the reply after the contacts


class Starts:
    """The words each group's phrases can begin with, so that a message is searched only for
    the groups one of its words can begin (a handful of the forty), not for all of them.

    A phrase matches from the start of a word of the message (the message's words are joined
    by single spaces, and a phrase is bounded by non-word characters), so its first part must
    match a whole word: that word equals one of the part's plain alternatives, starts with one
    of its `word*` prefixes, or is a number for `<number>`. A group none of whose phrases can
    begin at any word of the message cannot match it: skipping its pattern changes no result.
    """

    def __init__(self, groups: dict[str, tuple[str, ...]]) -> None:
        self.words: dict[str, set[str]] = {}
        self.prefixes: dict[str, set[str]] = {}
        self.numbers: set[str] = set()
        for name, phrases in groups.items():
            for phrase in phrases:
                for alternative in phrase.split()[0].split("|"):
                    if alternative == NUMBER:
                        self.numbers.add(name)
                    elif alternative.endswith("*"):
                        self.prefixes.setdefault(alternative[:-1], set()).add(name)
                    else:
                        self.words.setdefault(alternative, set()).add(name)
        self.lengths = sorted({len(prefix) for prefix in self.prefixes})

    def candidates(self, said: list[str]) -> dict[str, list[int]]:
        """The groups that can match a message of these words, each with the places (word
        numbers) where one of its phrases can begin."""
        found: dict[str, list[int]] = {}
        for place, word in enumerate(said):
            groups = set(self.words.get(word, ()))
            if word.isdigit():
                groups.update(self.numbers)
            for length in self.lengths:
                if length > len(word):
                    break
                groups.update(self.prefixes.get(word[:length], ()))
            for group in groups:
                found.setdefault(group, []).append(place)
        return found


@dataclass(frozen=True)
class UrgentDetector:
    # Each group's phrases (a few microseconds per message).
    groups: Mapping[str, Phrases]
    kinds: tuple[Kind, ...]
    knowledge_frames: tuple[str, ...]
    live_markers: tuple[str, ...]
    # The second opinion by meaning (None: rules only) and when it is asked.
    meaning: UrgentMeaning | None = None
    signals: tuple[str, ...] = ()
    meaning_kind: Kind | None = None
    # Which groups a message's words can begin (None: search every group).
    starts: Starts | None = None
    # Rules that make a message settled (`framing.settled`): a practitioner's own worry, or a
    # process question about something past and in hand; never a live concern.
    settled_rules: tuple[tuple[str, ...], ...] = ()

    def _settled(self, present: set[str]) -> bool:
        """A settled rule holds: its groups present, and its `-group`s absent."""
        return any(
            all((g[1:] not in present) if g.startswith("-") else (g in present) for g in rule)
            for rule in self.settled_rules
        )

    def present(self, text: str) -> set[str]:
        """The groups whose phrases occur in the message."""
        said = message_words(text)
        if not said:
            return set()
        if self.starts is None:
            everywhere = range(len(said))
            return {g for g in self.groups if self.groups[g].search(said, everywhere)}
        candidates = self.starts.candidates(said)
        return {g for g, places in candidates.items() if self.groups[g].search(said, places)}

    def _found(self, present: set[str]) -> list[Kind]:
        """The kinds with a rule whose groups are all present, in priority order."""
        return [k for k in self.kinds if any(map(present.issuperset, k.rules))]

    def _framed_as_knowledge(self, present: set[str]) -> bool:
        if self._settled(present):
            return True
        framed = not present.isdisjoint(self.knowledge_frames)
        return framed and present.isdisjoint(self.live_markers)

    def settled(self, text: str) -> bool:
        """Whether `text` would be a live concern but for a settled frame (something past and
        in hand; a worry about oneself): its answer gets one safety line."""
        present = self.present(text)
        return bool(self._found(present)) and self._settled(present)

    def kinds_of(self, text: str) -> list[Kind]:
        """Every kind of concern the message shows, in priority order (empty: not urgent)."""
        present = self.present(text)
        found = self._found(present)
        if not found or self._framed_as_knowledge(present):
            return []
        return found

    def _unsure(self, present: set[str]) -> bool:
        return not present.isdisjoint(self.signals) and not self._framed_as_knowledge(present)

    def unsure(self, text: str) -> bool:
        """No rule matched, but the message carries a sign of a concern and is not framed as a
        knowledge question: worth a second opinion by meaning."""
        if self.meaning is None:
            return False
        present = self.present(text)
        return not self._found(present) and self._unsure(present)

    async def screen(self, text: str) -> Kind | None:
        """`match`, then, where the rules are unsure, the second opinion by meaning. The
        message's groups are found once, for both."""
        present = self.present(text)
        found = self._found(present)
        if found and not self._framed_as_knowledge(present):
            return found[0]
        if self.meaning is None or self.meaning_kind is None:
            return None
        if found or not self._unsure(present):
            return None  # a rule matched a question about guidance; or no sign of a concern
        await self.meaning.ready()
        return self.meaning_kind if self.meaning.is_live(text) else None

    def match(self, text: str) -> Kind | None:
        """The leading kind of live concern in `text`, or None."""
        found = self.kinds_of(text)
        return found[0] if found else None


def _phrases(name: str, raw: Any, problems: Problems) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        problems.add(FILE, name, "-", "expected a non-empty list of phrases")
        return ()
    phrases = []
    for value in raw:
        if not isinstance(value, str | int) or not str(value).strip():
            problems.add(FILE, name, "-", f"expected a phrase, got {value!r}")
            continue
        text = str(value).strip().lower()
        parts = tuple(text.split())
        bad = [p for p in parts if not _PHRASE_WORD.match(p)]
        if bad:
            problems.add(
                FILE,
                name,
                "-",
                f"phrase {text!r}: use lowercase letters and digits, word* or <number>, "
                f"without punctuation (write mums, not mum's); not {' '.join(bad)!r}",
            )
            continue
        phrases.append(" ".join(parts))
    return tuple(phrases)


def _names(
    raw: Any, groups: Mapping[str, Any], where: str, problems: Problems, absent: bool = False
) -> tuple[str, ...]:
    """A list of group names; with `absent`, `-name` (that group absent) too."""
    if not isinstance(raw, list) or not raw or not all(isinstance(g, str) for g in raw):
        problems.add(FILE, where, "-", "expected a non-empty list of group names")
        return ()
    for name in raw:
        if absent and name.startswith("-"):
            name = name[1:]
        if name not in groups:
            problems.add(FILE, where, "-", f"unknown group {name!r}")
    return tuple(raw)


def read_urgent(
    directory: Path, problems: Problems, knowledge_examples: Sequence[str] = ()
) -> UrgentDetector:
    """Load and validate urgent.yaml (and urgent_examples.yaml, with `knowledge_examples`, the
    topics' questions, on the knowledge side); problems are added, never raised."""
    data = load_yaml(directory / FILE, problems)
    empty = UrgentDetector({}, (), (), ())
    if not isinstance(data, dict):
        if data is not None:
            problems.add(FILE, "-", "-", "expected a mapping with groups, kinds and framing")
        return empty
    raw_groups = data.get("groups")
    if not isinstance(raw_groups, dict) or not raw_groups:
        problems.add(FILE, "-", "groups", "expected a mapping of group name -> phrases")
        return empty
    phrases = {
        str(name): _phrases(f"groups.{name}", raw, problems) for name, raw in raw_groups.items()
    }
    groups = GroupPhrases(phrases)
    kinds: list[Kind] = []
    raw_kinds = data.get("kinds")
    if not isinstance(raw_kinds, list) or not raw_kinds:
        problems.add(FILE, "-", "kinds", "expected a list of kinds")
        raw_kinds = []
    for i, raw in enumerate(raw_kinds, 1):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            problems.add(FILE, f"kinds #{i}", "-", "expected a mapping with id, lead, more, rules")
            continue
        kind_id = raw["id"]
        unknown = set(raw) - {"id", "lead", "more", "rules", "advice"}
        if unknown:
            problems.add(FILE, kind_id, ", ".join(sorted(unknown)), "unknown field")
        lead = raw.get("lead")
        if lead not in CONTACT_KEYS:
            problems.add(
                FILE, kind_id, "lead", f"expected a contact key ({', '.join(CONTACT_KEYS)})"
            )
        more = raw.get("more")
        if not isinstance(more, list) or not more or not all(isinstance(m, str) for m in more):
            problems.add(FILE, kind_id, "more", "expected a non-empty list of topic ids")
            more = []
        rules = raw.get("rules")
        if not isinstance(rules, list) or not rules:
            problems.add(FILE, kind_id, "rules", "expected a list of rules (lists of group names)")
            rules = []
        checked = tuple(
            _names(rule, groups, f"{kind_id}: rules[{n}]", problems)
            for n, rule in enumerate(rules, 1)
        )
        if any(k.id == kind_id for k in kinds):
            problems.add(FILE, kind_id, "id", "duplicate kind")
        advice = raw.get("advice", "")
        if not isinstance(advice, str) or len(advice) > ADVICE_MAX:
            problems.add(
                FILE, kind_id, "advice", f"expected one sentence, at most {ADVICE_MAX} characters"
            )
            advice = ""
        kinds.append(Kind(kind_id, str(lead), tuple(more), checked, advice.strip()))
    framing = data.get("framing")
    if not isinstance(framing, dict):
        problems.add(FILE, "-", "framing", "expected a mapping with knowledge and live")
        framing = {}
    frames = _names(framing.get("knowledge"), groups, "framing.knowledge", problems)
    live = _names(framing.get("live"), groups, "framing.live", problems)
    raw_settled = framing.get("settled") or []
    if not isinstance(raw_settled, list):
        problems.add(FILE, "framing", "settled", "expected a list of rules (lists of group names)")
        raw_settled = []
    settled = tuple(
        _names(rule, groups, f"framing.settled[{n}]", problems, absent=True)
        for n, rule in enumerate(raw_settled, 1)
    )
    meaning, signals, meaning_kind = _read_meaning(
        directory, data.get("semantic"), groups, kinds, knowledge_examples, problems
    )
    return UrgentDetector(
        groups,
        tuple(kinds),
        frames,
        live,
        meaning,
        signals,
        meaning_kind,
        Starts(phrases),
        settled,
    )


def _read_meaning(
    directory: Path,
    raw: Any,
    groups: Mapping[str, Phrases],
    kinds: list[Kind],
    knowledge_examples: Sequence[str],
    problems: Problems,
) -> tuple[UrgentMeaning | None, tuple[str, ...], Kind | None]:
    """The `semantic:` section and its examples; (None, (), None) when there is none."""
    if raw is None:
        return None, (), None
    if not isinstance(raw, dict):
        problems.add(FILE, "-", "semantic", "expected a mapping with signals, kind, margin")
        return None, (), None
    unknown = set(raw) - {"signals", "kind", "margin", "neighbours"}
    if unknown:
        problems.add(FILE, "semantic", ", ".join(sorted(unknown)), "unknown field")
    signals = _names(raw.get("signals"), groups, "semantic.signals", problems)
    kind = next((k for k in kinds if k.id == raw.get("kind")), None)
    if kind is None:
        problems.add(FILE, "semantic", "kind", "expected the id of one of the kinds")
    margin, neighbours = raw.get("margin"), raw.get("neighbours", 3)
    if not isinstance(margin, (int, float)) or not -1 < margin < 1:
        problems.add(FILE, "semantic", "margin", "expected a number between -1 and 1")
        margin = 1.0
    if not isinstance(neighbours, int) or neighbours < 1:
        problems.add(FILE, "semantic", "neighbours", "expected a whole number, 1 or more")
        neighbours = 3
    examples = load_yaml(directory / EXAMPLES_FILE, problems)
    lists: dict[str, list[str]] = {}
    for side in ("live", "knowledge"):
        items = examples.get(side) if isinstance(examples, dict) else None
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            problems.add(EXAMPLES_FILE, "-", side, "expected a non-empty list of messages")
            items = []
        lists[side] = items
    meaning = UrgentMeaning(
        lists["live"], [*lists["knowledge"], *knowledge_examples], float(margin), neighbours
    )
    return meaning, signals, kind


def load_urgent(directory: Path = DEFAULT_DIRECTORY) -> UrgentDetector:
    """Load urgent.yaml from `directory`; raise KnowledgeError if it is invalid."""
    problems = Problems()
    detector = read_urgent(directory, problems)
    problems.raise_if_any()
    return detector


@cache
def _shipped() -> UrgentDetector:
    return load_urgent()


def is_urgent(text: str) -> str | None:
    """The kind id of the live concern in `text` ("allegation", "disclosure"...), or None.

    Uses the shipped urgent.yaml; the running assistant uses the detector of its loaded
    knowledge (`Knowledge.urgent`), so /reload picks up edits.
    """
    kind = _shipped().match(text)
    return kind.id if kind else None
