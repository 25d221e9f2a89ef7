"""The canonical index (coverage.yaml): every heading, term, duty and publication a practitioner
may ask about, and the topic or document that answers it, or why none is needed.

`check` refuses an item naming an id that does not exist, and warns about an item with neither
an answer nor a reason; `main.py coverage` writes docs/coverage.md from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config.validation import Problems, load_yaml

FILE = "coverage.yaml"
REPORT = "report:"


@dataclass(frozen=True)
class Item:
    item: str
    answers: tuple[str, ...]  # topic ids, and report:<id> for catalogue entries
    none: str  # why no topic is needed, when `answers` is empty


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    url: str
    items: tuple[Item, ...]


def load_coverage(
    directory: Path, topics: set[str], reports: set[str], problems: Problems
) -> tuple[Source, ...]:
    """coverage.yaml, each answer checked against the knowledge's ids; absent: no index."""
    if not (directory / FILE).exists():
        return ()
    data = load_yaml(directory / FILE, problems)
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        problems.add(FILE, "-", "sources", "expected a list of sources with items")
        return ()
    sources = []
    for raw in data["sources"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("items"), list):
            problems.add(FILE, str(raw)[:40], "items", "expected a list of items")
            continue
        items = []
        for n, entry in enumerate(raw["items"], 1):
            where = f"{raw.get('id')} #{n}"
            if not isinstance(entry, dict) or not str(entry.get("item") or "").strip():
                problems.add(FILE, where, "item", "expected the heading or term")
                continue
            answers = tuple(str(a) for a in entry.get("topics") or ())
            for answer in answers:
                known = reports if answer.startswith(REPORT) else topics
                if answer.removeprefix(REPORT) not in known:
                    problems.add(FILE, where, "topics", f"no topic or report {answer!r}")
            reason = " ".join(str(entry.get("none") or "").split())
            items.append(Item(" ".join(str(entry["item"]).split()), answers, reason))
        title, url = str(raw.get("title")), str(raw.get("url") or "")
        sources.append(Source(str(raw.get("id")), title, url, tuple(items)))
    return tuple(sources)


def gaps(sources: tuple[Source, ...]) -> list[str]:
    """The items with neither an answer nor a reason: `check` warns about each."""
    return [
        f"coverage.yaml: {s.id}: {i.item}: no topic answers it, and no reason is given"
        for s in sources
        for i in s.items
        if not i.answers and not i.none
    ]


def as_markdown(sources: tuple[Source, ...]) -> str:
    """docs/coverage.md: the index, a table per source."""
    total = sum(len(s.items) for s in sources)
    answered = sum(1 for s in sources for i in s.items if i.answers)
    lines = [
        "# Coverage: the canonical index and what answers it",
        "",
        "Made from `knowledge/coverage.yaml` by `python main.py coverage` (do not edit by hand;",
        "a test checks the two agree). Each line of the index names the topic or document that",
        f"answers it, or why none is needed. {answered} of {total} items are answered; the",
        "others say why no answer is needed. `check` warns about an item with neither.",
    ]
    for source in sources:
        lines += ["", f"## {source.title}", ""]
        if source.url:
            lines += [f"Source: <{source.url}>", ""]
        lines += ["| item | answered by |", "|---|---|"]
        for item in source.items:
            answer = ", ".join(f"`{a}`" for a in item.answers) or f"none: {item.none}"
            lines.append(f"| {item.item.replace('|', '/')} | {answer.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
