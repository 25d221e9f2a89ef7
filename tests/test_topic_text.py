"""The topics' own text (knowledge/passages.py): its index kept in the cache scores every
question exactly as bm25s's own index does, read back without importing bm25s, and an edit to
a topic's text is never answered from the index of the old text."""

from __future__ import annotations

import shutil
from pathlib import Path

import bm25s
import numpy as np

from knowledge.cache import Cache
from knowledge.loader import Knowledge, load_knowledge
from knowledge.passages import NAME_WEIGHT, TopicText, stems
from knowledge.query import read_query
from knowledge.search import stem
from tests.cli import imported_by_two_asks

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def questions(knowledge: Knowledge) -> list[str]:
    """Questions in the words of the knowledge itself: names, example questions, the opening
    words of answers, and words no topic has."""
    asked = ["zebra crossing timetable", "the of and", "review review review"]
    for topic in list(knowledge.topics.values())[::3]:
        asked += [topic.title, *topic.questions[:2], " ".join(topic.answer.split()[:12])]
    return asked


def bm25s_scores(knowledge: Knowledge, question: str) -> dict[str, float]:
    """What bm25s's own index of the same documents gives, normalised as TopicText does."""
    corpus = []
    for topic in knowledge.topics.values():
        names = " ".join((topic.title, *topic.aliases, *topic.questions))
        text = " ".join(
            (
                topic.answer,
                topic.more,
                *(t for _, t in topic.facets),
                *(f"{c.ask} {c.say}" for c in topic.checks),
            )
        )
        corpus.append(stems(names) * NAME_WEIGHT + stems(text))
    index = bm25s.BM25()
    index.index(corpus, show_progress=False)
    said = [stem(t) for t in read_query(question, knowledge.index).tokens]
    if not said:
        return {}
    raw = np.asarray(index.get_scores(said), dtype=np.float64)
    best = float(raw.max())
    ids = list(knowledge.topics)
    return {} if best <= 0 else {ids[i]: float(raw[i] / best) for i in np.flatnonzero(raw > 0)}


def test_the_kept_index_scores_as_bm25s_built_or_read_back(tmp_path: Path) -> None:
    knowledge = load_knowledge(ROOT / "knowledge", semantic=False)
    cache = Cache(tmp_path / "cache")
    built = TopicText(knowledge.topics, cache)
    assert list((tmp_path / "cache").glob("topic-text-*.json"))
    read_back = TopicText(knowledge.topics, cache)
    uncached = TopicText(knowledge.topics)
    for question in questions(knowledge):
        query = read_query(question, knowledge.index)
        expected = bm25s_scores(knowledge, question)
        assert built.scores(query) == expected, question
        assert read_back.scores(query) == expected, question
        assert uncached.scores(query) == expected, question
        assert read_back.share_of(query, next(iter(expected), "")) == built.share_of(
            query, next(iter(expected), "")
        )


def test_an_edited_topic_is_scored_by_its_new_text(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(FIXTURES / "small_knowledge", folder)
    cache = Cache(tmp_path / "cache")
    before = load_knowledge(folder, semantic=False)
    query = read_query("quokka", before.index)
    assert TopicText(before.topics, cache).scores(query) == {}
    topics = folder / "topics.yaml"
    text = topics.read_text(encoding="utf-8")
    topics.write_text(text.replace("answer: A sprocket", "answer: A quokka. A sprocket"))
    after = load_knowledge(folder, semantic=False)
    scores = TopicText(after.topics, cache).scores(read_query("quokka", after.index))
    assert scores == {"sprocket-audit": 1.0}
    assert len(list((tmp_path / "cache").glob("topic-text-*.json"))) == 2


def test_ask_reads_the_kept_index_without_importing_bm25s(tmp_path: Path) -> None:
    # built on the first run (bm25s was needed), read back on the second
    assert imported_by_two_asks(tmp_path, "bm25s", "tqdm") == [[True, True], [False, False]]
