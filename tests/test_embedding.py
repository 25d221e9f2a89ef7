"""The model read from wordllama's files gives wordllama's own vectors, bit for bit; the vectors
and the template check kept in the cache are used again only for the same inputs."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from config.validation import Problems
from knowledge import loader
from knowledge.cache import Cache, InMemory
from knowledge.document import check_template
from knowledge.embedding import StaticModel, package_folder
from knowledge.layers import Layers
from knowledge.loader import load_knowledge
from knowledge.semantic import SemanticIndex, load_model
from tests import yaml_support
from tests.cli import run_main_subprocess

ROOT = Path(__file__).resolve().parent.parent

ODD_TEXTS = [
    "what is a rapid review",
    "a",
    "x" * 300,
    "naïve café ünïcode – and emoji 🙂",
    "baby p haringey 2007 lscb serious case review executive summary",
    "",
]


@pytest.fixture(scope="module")
def wordllama_model() -> object:
    import wordllama

    return wordllama.WordLlama.load(cache_dir=package_folder(), disable_download=True)


def shipped_texts() -> list[str]:
    knowledge = load_knowledge(ROOT / "knowledge", semantic=False)
    meaning = knowledge.urgent.meaning
    assert meaning is not None
    return [*knowledge.semantic._texts, *meaning.live_texts, *meaning.knowledge_texts]


def test_vectors_equal_wordllamas_in_batches_and_one_by_one(wordllama_model: object) -> None:
    ours = StaticModel()
    texts = shipped_texts()
    theirs = wordllama_model.embed(texts, norm=True)  # type: ignore[attr-defined]
    assert np.array_equal(ours.embed(texts, norm=True), theirs)
    for text in [*ODD_TEXTS, *texts[:200:7]]:
        if not text:
            continue
        one = wordllama_model.embed([text], norm=True)  # type: ignore[attr-defined]
        assert np.array_equal(ours.embed([text], norm=True), one), text
    raw = wordllama_model.embed(ODD_TEXTS[:-1], norm=False)  # type: ignore[attr-defined]
    assert np.array_equal(ours.embed(ODD_TEXTS[:-1]), raw)


def test_the_weights_are_memory_mapped_not_read() -> None:
    model = StaticModel()
    assert isinstance(model.weights, np.memmap)
    assert model.weights.shape == (32000, 256) and model.weights.dtype == np.float16


class Counting:
    """The real model, counting the texts it is asked to embed."""

    def __init__(self, model: StaticModel) -> None:
        self.model = model
        self.embedded = 0

    def fingerprint(self) -> str:
        return self.model.fingerprint()

    def embed(self, texts: list[str], norm: bool = False) -> np.ndarray:
        self.embedded += len(texts)
        return self.model.embed(texts, norm=norm)


ENTRIES = [("scr", ["what is a serious case review"]), ("bus", ["bus times", "timetable"])]


def test_names_are_embedded_once_then_read_back(tmp_path: Path) -> None:
    model = Counting(load_model())  # type: ignore[arg-type]
    cache = Cache(tmp_path / "cache")
    first = SemanticIndex(ENTRIES)
    first._build_from(model, cache)
    assert model.embedded == 3
    again = SemanticIndex(ENTRIES)
    again._build_from(model, cache)
    assert model.embedded == 3  # read back: nothing embedded
    question = "purpose of serious case reviews"
    assert again.scores(question) == first.scores(question)
    assert list(again.scores(question)) == ["scr", "bus"]
    before = model.embedded
    edited = SemanticIndex([*ENTRIES, ("lado", ["who is the lado"])])
    edited._build_from(model, cache)
    assert model.embedded == before + 4  # other names: embedded again, all of them


def test_without_a_writable_cache_the_vectors_are_computed(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    model = Counting(load_model())  # type: ignore[arg-type]
    index = SemanticIndex(ENTRIES)
    index._build_from(model, Cache(blocker / "cache"))
    assert model.embedded == 3
    assert list(index.scores("bus timetable")) == ["bus", "scr"]


def test_a_template_that_passed_is_not_filled_again_but_an_edited_one_is(
    tmp_path: Path,
) -> None:
    knowledge = load_knowledge(ROOT / "knowledge", semantic=False)
    template = tmp_path / "notification.docx"
    shutil.copy(ROOT / "knowledge" / "templates" / "notification.docx", template)
    cache = Cache(tmp_path / "cache")
    problems = Problems()
    check_template(template, knowledge.form, problems, cache)
    assert problems.items == []
    assert len(list((tmp_path / "cache").glob("template-*.passed"))) == 1
    template.write_bytes(b"not a Word document any more")
    check_template(template, knowledge.form, problems, cache)
    assert problems.items and "not a Word document" in problems.items[0]


@pytest.mark.slow  # main.py as processes, on an empty cache
def test_check_writes_what_the_next_start_reads(tmp_path: Path) -> None:
    """Real processes: `check` computes and keeps the vectors, the template's and the
    registry's pass, the topics' text index and the parsed knowledge files; `ask` then finds
    every one of them under the same names (it writes nothing new)."""
    result = run_main_subprocess(tmp_path, "check", own_cache=True)
    assert result.returncode == 0, result.stderr
    cache = tmp_path / "cache"
    kept = sorted(p.name for p in cache.iterdir())
    # the registry; the template; the topics' text; the names, the decline examples, the urgent
    # live and knowledge examples; the knowledge's YAML files
    kinds = [name.split("-")[0] for name in kept]
    assert [k for k in kinds if k != "parsed"] == [
        "registry",
        "template",
        "topic",
        *["vectors"] * 4,
    ]
    assert kinds.count("parsed") >= 10
    asked = run_main_subprocess(tmp_path, "ask", "what is a rapid review", own_cache=True)
    assert asked.returncode == 0, asked.stderr
    assert "rapid review" in asked.stdout.lower()
    assert sorted(p.name for p in cache.iterdir()) == kept


def test_parsed_yaml_is_read_back_as_it_was_and_an_edit_is_parsed_again(tmp_path: Path) -> None:
    calls: list[str] = []

    def parse(text: str) -> object:
        calls.append(text)
        return yaml_support.load(text)

    cache = Cache(tmp_path / "cache")
    text = "records:\n  - id: a\n    checked: 2026-12-01\n    points: [one, two]\n    weight: 0.5\n"
    first = cache.parsed(text, parse)
    again = cache.parsed(text, parse)
    assert again == first == yaml_support.load(text)
    assert again["records"][0]["checked"] == dt.date(2026, 12, 1)  # a date, as YAML gives it
    assert calls == [text]  # read back, not parsed again
    edited = text.replace("one", "three")
    assert cache.parsed(edited, parse)["records"][0]["points"] == ["three", "two"]
    # Data JSON would change (a number as a key) is parsed every time, never kept changed.
    numbered = "2019: a year\n"
    assert cache.parsed(numbered, parse) == cache.parsed(numbered, parse) == {2019: "a year"}
    assert calls.count(numbered) == 2


def test_knowledge_loaded_from_parsed_files_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("knowledge.loader.shared", None)  # as it runs: loaded, not shared
    cache = Cache(tmp_path / "cache")
    fresh = load_knowledge(ROOT / "knowledge", semantic=False, cache=cache)
    assert list((tmp_path / "cache").glob("parsed-*.json"))
    kept = load_knowledge(ROOT / "knowledge", semantic=False, cache=cache)
    assert kept.topics == fresh.topics and kept.reports == fresh.reports
    assert kept.learning == fresh.learning


def test_in_memory_parsing_gives_each_caller_its_own_copy_and_parses_an_edit() -> None:
    calls: list[str] = []

    def parse(text: str) -> object:
        calls.append(text)
        return yaml_support.load(text)

    memory = InMemory()
    text = "topics:\n  - id: a\n    checked: 2026-12-01\n"
    first = memory.parsed(text, parse)
    first["topics"].append("changed by its caller")
    again = memory.parsed(text, parse)
    assert again == {"topics": [{"id": "a", "checked": dt.date(2026, 12, 1)}]}
    assert calls == [text]
    assert memory.parsed(text.replace("a", "b"), parse)["topics"][0]["id"] == "b"
    assert len(calls) == 2


def test_the_knowledge_key_sees_an_edit_that_keeps_the_size_and_the_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """content_key keeps a file's digest by its status: an edit of the same size whose
    modification time is put back still changes the key (its ctime moves)."""
    folder = tmp_path / "knowledge"
    folder.mkdir()
    topics = folder / "topics.yaml"
    topics.write_text("topics: [one]\n", encoding="utf-8")
    stat = topics.stat()
    later = time.time_ns() + 10_000_000_000  # as if read 10 s later: the digest is kept
    monkeypatch.setattr(loader.time, "time_ns", lambda: later)
    before = loader.content_key(Layers(folder, None))
    assert loader.content_key(Layers(folder, None)) == before
    time.sleep(0.01)
    topics.write_text("topics: [two]\n", encoding="utf-8")
    os.utime(topics, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert topics.stat().st_size == stat.st_size
    assert loader.content_key(Layers(folder, None)) != before
