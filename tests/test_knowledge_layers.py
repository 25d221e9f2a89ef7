"""National knowledge and a partnership's pack (knowledge/layers.py, knowledge/loader.py): a
pack's topic without an answer extends the national one (its local line after the answer, its
questions and sources after the national ones); a pack's topic with an answer replaces it; the
national text's $partnership and $area are the pack's own names. On the small fixture."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from config.validation import KnowledgeError
from knowledge.loader import load_knowledge
from tests import yaml_support

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def national(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    shutil.copytree(FIXTURES / "small_knowledge", folder)
    topics = yaml_support.load((folder / "topics.yaml").read_text())
    topics["topics"][0]["answer"] = "A widget review is held by $partnership for $area."
    (folder / "topics.yaml").write_text(yaml_support.dump(topics))
    return folder


def pack(tmp_path: Path, topics: list[Any]) -> Path:
    folder = tmp_path / "packs" / "example-vale"
    folder.mkdir(parents=True)
    (folder / "partnership.yaml").write_text(
        yaml_support.dump(
            {"name": "Example Vale Partnership", "short_name": "EVP", "area": "Example Vale"}
        )
    )
    (folder / "topics.yaml").write_text(yaml_support.dump({"topics": topics}))
    return folder


def test_the_packs_names_fill_the_national_text(tmp_path: Path) -> None:
    knowledge = load_knowledge(national(tmp_path), pack(tmp_path, []), semantic=False)
    assert knowledge.topics["widget-review"].answer == (
        "A widget review is held by EVP for Example Vale."
    )


def test_without_a_pack_the_text_says_the_partnership(tmp_path: Path) -> None:
    knowledge = load_knowledge(national(tmp_path), semantic=False)
    assert knowledge.topics["widget-review"].answer == (
        "A widget review is held by the partnership for your area."
    )


def test_a_packs_topic_without_an_answer_extends_the_national_one(tmp_path: Path) -> None:
    local = {
        "id": "widget-review",
        "local": "In Example Vale the review group meets monthly.",
        "questions": ["who runs widget reviews in example vale"],
        "sources": [{"title": "Example Vale reviews", "url": "https://example.org/vale"}],
    }
    knowledge = load_knowledge(national(tmp_path), pack(tmp_path, [local]), semantic=False)
    topic = knowledge.topics["widget-review"]
    assert topic.answer.endswith("Example Vale. In Example Vale the review group meets monthly.")
    assert topic.questions[-1] == "who runs widget reviews in example vale"
    assert [s.url for s in topic.sources][-1] == "https://example.org/vale"
    assert "what is a widget review" in topic.questions  # the national names stay


def test_a_packs_topic_with_an_answer_replaces_the_national_one(tmp_path: Path) -> None:
    own = {
        "id": "widget-review",
        "title": "Widget review in Example Vale",
        "answer": "Ours.",
        "questions": ["what is ours"],
        "sources": [{"title": "Ours", "url": "https://example.org/ours"}],
    }
    knowledge = load_knowledge(national(tmp_path), pack(tmp_path, [own]), semantic=False)
    assert knowledge.topics["widget-review"].answer == "Ours."


def test_an_extension_of_nothing_is_refused(tmp_path: Path) -> None:
    local = {"id": "no-such-topic", "local": "Something local."}
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(national(tmp_path), pack(tmp_path, [local]), semantic=False)
    assert caught.value.problems == [
        "partnerships/example-vale/topics.yaml: no-such-topic: id: extends no national entry "
        "of this id"
    ]


def test_packs_in_partnerships_folders_are_told_apart(tmp_path: Path) -> None:
    # Shipped packs live in a folder named partnerships/, which the national folder's own
    # partnerships/ shares: each pack's files still count in what the loaded knowledge is.
    folder = national(tmp_path)
    answers = []
    for place in ("first", "second"):
        local = {"id": "widget-review", "local": f"The {place} pack's own line."}
        packs = tmp_path / place / "partnerships"
        packs.mkdir(parents=True)
        own = pack(tmp_path / place, [local]).rename(packs / "example-vale")
        answers.append(load_knowledge(folder, own, semantic=False).topics["widget-review"].answer)
    assert answers[0].endswith("The first pack's own line.")
    assert answers[1].endswith("The second pack's own line.")
