"""The topics' own text (knowledge/passages.py): its index kept in the cache scores every
question exactly as bm25s's own index does, built or read back, and an edit to a topic's text
is never answered from the index of the old text. That `ask` reads it back without importing
bm25s: tests/test_lean_imports.py."""

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

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def questions(knowledge: Knowledge) -> list[str]:
    """Questions in the words of the knowledge itself: names, example questions, the opening
    words of answers, and words no topic has."""
    asked = ["zebra crossing timetable", "the of and", "review review review"]
    for topic in list(knowledge.topics.values())[::3]:
        asked += [topic.title, *topic.questions[:2], " ".join(topic.answer.split()[:12])]
    return asked


class Bm25sReference:
    """What bm25s's own index of the same documents gives, normalised as TopicText does. The
    index is built once for all the questions asked of it (building it for each question was
    nearly all of this file's time); bm25s scores every question against the same index."""

    def __init__(self, knowledge: Knowledge) -> None:
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
        self.knowledge = knowledge
        self.index = bm25s.BM25()
        self.index.index(corpus, show_progress=False)

    def scores(self, question: str) -> dict[str, float]:
        said = [stem(t) for t in read_query(question, self.knowledge.index).tokens]
        if not said:
            return {}
        raw = np.asarray(self.index.get_scores(said), dtype=np.float64)
        best = float(raw.max())
        ids = list(self.knowledge.topics)
        return {} if best <= 0 else {ids[i]: float(raw[i] / best) for i in np.flatnonzero(raw > 0)}


def test_the_kept_index_scores_as_bm25s_built_or_read_back(tmp_path: Path) -> None:
    knowledge = load_knowledge(ROOT / "knowledge", semantic=False)
    cache = Cache(tmp_path / "cache")
    built = TopicText(knowledge.topics, cache)
    assert list((tmp_path / "cache").glob("topic-text-*.json"))
    read_back = TopicText(knowledge.topics, cache)
    uncached = TopicText(knowledge.topics)
    reference = Bm25sReference(knowledge)
    for question in questions(knowledge):
        query = read_query(question, knowledge.index)
        expected = reference.scores(question)
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
