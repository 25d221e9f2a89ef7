"""`python main.py check` and start-up refuse invalid knowledge, naming file, entry and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.validation import KnowledgeError
from knowledge.loader import load_knowledge
from tests import cli, yaml_support

ROOT = Path(__file__).resolve().parent.parent


def knowledge_copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(
        ROOT / "knowledge", target, ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    return target


def edit_topics(directory: Path, change) -> None:
    path = directory / "topics.yaml"
    data = yaml_support.load(path.read_text(encoding="utf-8"))
    change(data["topics"])
    path.write_text(yaml_support.dump(data, allow_unicode=True), encoding="utf-8")


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(directory)
    return caught.value.problems


def test_shipped_knowledge_is_valid() -> None:
    knowledge = load_knowledge(ROOT / "knowledge")
    assert "serious-case-review" in knowledge.topics


def test_duplicate_id(tmp_path: Path) -> None:
    directory = knowledge_copy(tmp_path)
    edit_topics(directory, lambda topics: topics.append(dict(topics[0])))
    first = yaml_support.load((directory / "topics.yaml").read_text())["topics"][0]["id"]
    assert f"topics.yaml: {first}: id: duplicate id" in problems_of(directory)


def test_related_id_that_does_not_exist(tmp_path: Path) -> None:
    directory = knowledge_copy(tmp_path)

    def change(topics: list[dict]) -> None:
        for topic in topics:
            if topic["id"] == "rapid-review":
                topic["related"] = ["no-such-topic"]

    edit_topics(directory, change)
    assert problems_of(directory) == [
        "topics.yaml: rapid-review: related: no entry with id 'no-such-topic'"
    ]


def test_an_alias_on_two_topics_is_refused(tmp_path: Path) -> None:
    directory = knowledge_copy(tmp_path)

    def change(topics: list[dict]) -> None:
        for topic in topics:
            if topic["id"] == "rapid-review":
                topic["aliases"] = [*topic.get("aliases", []), "Serious Case Review"]
            if topic["id"] == "serious-case-review":
                topic["aliases"] = [*topic.get("aliases", []), "serious case review"]

    edit_topics(directory, change)
    problems = [p for p in problems_of(directory) if "aliases" in p]
    assert len(problems) == 1 and "is also an alias of" in problems[0]


def test_missing_answer_and_malformed_link_all_reported(tmp_path: Path) -> None:
    directory = knowledge_copy(tmp_path)

    def change(topics: list[dict]) -> None:
        for topic in topics:
            if topic["id"] == "serious-harm":
                del topic["answer"]
            if topic["id"] == "rapid-review":
                topic["sources"][0]["url"] = "www.example.org/no-scheme"
            if topic["id"] == "liaison-officer":
                topic["colour"] = "blue"

    edit_topics(directory, change)
    problems = problems_of(directory)
    assert "topics.yaml: serious-harm: answer: missing" in problems
    assert (
        "topics.yaml: rapid-review: sources[1].url: malformed link "
        "'www.example.org/no-scheme': expected an http(s) address"
    ) in problems
    assert any(
        p.startswith("topics.yaml: liaison-officer: colour: unknown field") for p in problems
    )


def test_report_with_unknown_group_and_kind(tmp_path: Path) -> None:
    directory = knowledge_copy(tmp_path)
    path = directory / "reports.yaml"
    data = yaml_support.load(path.read_text(encoding="utf-8"))
    data["reports"][0]["group"] = "nowhere"
    data["reports"][0]["kind"] = "novel"
    path.write_text(yaml_support.dump(data, allow_unicode=True), encoding="utf-8")
    rid = data["reports"][0]["id"]
    problems = problems_of(directory)
    assert f"reports.yaml: {rid}: group: unknown group 'nowhere'" in problems
    assert any(p.startswith(f"reports.yaml: {rid}: kind: unknown kind 'novel'") for p in problems)


def test_unparsable_yaml(tmp_path: Path) -> None:
    directory = knowledge_copy(tmp_path)
    (directory / "topics.yaml").write_text("topics:\n  - id: [unclosed\n", encoding="utf-8")
    (directory / "threshold.yaml").write_text("start: [\n", encoding="utf-8")
    problems = problems_of(directory)
    # One message per broken file, not also "expected a top-level list" or "start: missing".
    about_topics = [p for p in problems if p.startswith("topics.yaml:")]
    assert len(about_topics) == 1 and "not valid YAML" in about_topics[0], about_topics
    about_threshold = [p for p in problems if p.startswith("threshold.yaml:")]
    assert len(about_threshold) == 1 and "not valid YAML" in about_threshold[0], about_threshold


def run_main(tmp_path: Path, *args: str, knowledge: Path) -> cli.Result:
    return cli.run_main(tmp_path, *args, settings=f"knowledge_dir: {knowledge}\n")


def test_check_command_lists_every_problem_and_fails(tmp_path: Path) -> None:
    directory = knowledge_copy(tmp_path)

    def change(topics: list[dict]) -> None:
        topics[0]["related"] = ["ghost"]
        del topics[1]["title"]

    edit_topics(directory, change)
    result = run_main(tmp_path, "check", knowledge=directory)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert any(line.endswith("related: no entry with id 'ghost'") for line in lines)
    assert any(line.endswith(": title: missing") for line in lines)
    assert "2 problems found." in lines


def test_check_command_passes_on_shipped_knowledge(tmp_path: Path) -> None:
    # In this process: `check` as the shell runs it, a process of its own, is
    # tests/test_embedding.py's (then the next start reads what it wrote) and the wheel's.
    settings = f"knowledge_dir: {ROOT / 'knowledge'}\n"
    result = cli.run_main(tmp_path, "check", settings=settings)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_assistant_refuses_to_start_on_invalid_knowledge(tmp_path: Path) -> None:
    directory = knowledge_copy(tmp_path)
    edit_topics(directory, lambda topics: topics[0].update(related=["ghost"]))
    result = run_main(tmp_path, "chat", knowledge=directory)
    assert result.returncode == 1
    assert "not starting" in result.stderr
    assert "related: no entry with id 'ghost'" in result.stderr
