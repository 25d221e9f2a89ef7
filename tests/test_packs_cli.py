"""A partnership's pack from the command line: `new-partnership` writes one holding nothing of any
other partnership, `check` validates every pack (naming what is left to fill in and each contact
not yet confirmed, per pack) and warns about national texts that name a partnership, and `eval`
runs for a chosen pack."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bot.cli.packs import pack_id
from config.partnership import read_pack
from knowledge.loader import load_knowledge
from knowledge.local_names import named_partnerships
from tests import yaml_support
from tests.cli import run_main
from tests.packs_support import BEDFORD, FIXTURE_PACKS, SHIPPED_BEDFORD, SMALL_KNOWLEDGE, VALE


def packs_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "packs"
    shutil.copytree(SHIPPED_BEDFORD, folder / BEDFORD)
    shutil.copytree(FIXTURE_PACKS / VALE, folder / VALE)
    return folder


def bedford_strings() -> set[str]:
    """Every distinctive text of Bedford's pack, lower-cased."""
    found = {"bedford", "bbscp", "01234"}
    for path in SHIPPED_BEDFORD.glob("*.yaml"):
        data = yaml_support.load(path.read_text(encoding="utf-8"))
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                stack += list(node.values())
            elif isinstance(node, list):
                stack += node
            elif isinstance(node, str) and ("@" in node or "bedford" in node.lower()):
                found.add(node.lower())
    return found


def test_new_partnership_writes_a_pack_with_nothing_of_another_partnership(
    tmp_path: Path,
) -> None:
    folder = packs_folder(tmp_path)
    result = run_main(
        tmp_path,
        "new-partnership",
        "Example Dale Safeguarding Children Partnership",
        settings=f"partnerships_dir: {folder}\n",
    )
    assert result.returncode == 0, result.stderr
    pack = folder / "example-dale-safeguarding-children-partnership"
    assert f"Wrote {pack}" in result.stdout
    files = sorted(p.name for p in pack.iterdir())
    assert files == ["liaison_officers.yaml", "partnership.yaml", "reports.yaml", "topics.yaml"]
    text = "\n".join(p.read_text(encoding="utf-8") for p in pack.iterdir()).lower()
    assert [s for s in bedford_strings() if s in text] == []
    assert "example dale safeguarding children partnership" in text
    # Every contact unconfirmed; an empty registry and catalogue.
    data = yaml_support.load((pack / "partnership.yaml").read_text(encoding="utf-8"))
    assert {k: c["confirmed"] for k, c in data["contacts"].items()} == dict.fromkeys(
        ("emergency", "front_door", "out_of_hours", "police", "lado", "partnership"), False
    )
    registry = yaml_support.load((pack / "liaison_officers.yaml").read_text(encoding="utf-8"))
    assert registry == {"liaison_officers": [], "staff": []}
    assert yaml_support.load((pack / "reports.yaml").read_text(encoding="utf-8")) == {"reports": []}
    # Not twice.
    again = run_main(
        tmp_path,
        "new-partnership",
        "Example Dale Safeguarding Children Partnership",
        settings=f"partnerships_dir: {folder}\n",
    )
    assert again.returncode == 1 and "exists already" in again.stderr


def test_check_names_what_a_new_pack_still_needs_then_passes_once_it_is_filled_in(
    tmp_path: Path,
) -> None:
    folder = packs_folder(tmp_path)
    settings = f"partnerships_dir: {folder}\n"
    run_main(tmp_path, "new-partnership", "Example Dale", "--id", "dale", settings=settings)
    result = run_main(tmp_path, "check", settings=settings)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert any(
        x.endswith(
            "dale/partnership.yaml: contacts.front_door.phone: still a placeholder: give the "
            "partnership's own"
        )
        for x in lines
    )
    assert any("dale/partnership.yaml: recipients[1]: still a placeholder" in x for x in lines)
    # Each pack's unconfirmed contacts, named by its pack; Bedford's and Example Vale's too.
    warned = [x.split(": ")[1:3] for x in lines if x.startswith("warning: ") and "contacts." in x]
    assert ["dale", "contacts.lado"] in warned
    assert ["bedford-borough", "contacts.lado"] in warned
    assert ["example-vale", "contacts.out_of_hours"] in warned
    assert ["example-vale", "contacts.front_door"] not in warned  # confirmed in its pack

    # Filled in, it passes (with the warnings about contacts still to confirm).
    pack = folder / "dale" / "partnership.yaml"
    vale = yaml_support.load((FIXTURE_PACKS / VALE / "partnership.yaml").read_text())
    data = yaml_support.load(pack.read_text())
    data.update(
        short_name="EDSCP",
        area="Example Dale",
        website="https://dale.example.org/",
        recipients=["notify@dale.example.org"],
        allowed_email_domains=["dale.example.org"],
    )
    data["contacts"] = {k: {**c, "confirmed": False} for k, c in vale["contacts"].items()}
    pack.write_text(yaml_support.dump(data), encoding="utf-8")
    result = run_main(tmp_path, "check", settings=settings)
    assert result.returncode == 0, result.stderr
    assert "(bedford-borough, dale, example-vale)" in result.stdout
    assert "warning: dale: contacts.lado" in result.stderr


def test_the_national_knowledge_must_not_name_a_partnership(tmp_path: Path) -> None:
    national = tmp_path / "knowledge"
    shutil.copytree(SMALL_KNOWLEDGE, national)
    topics = yaml_support.load((national / "topics.yaml").read_text())
    topics["topics"][0]["answer"] = "In Example Vale, ring 01632 960101 and ask the EVSCP."
    topics["topics"][1]["more"] = "Email lado@example-vale.org about it."
    (national / "topics.yaml").write_text(yaml_support.dump(topics), encoding="utf-8")
    vale = read_pack(FIXTURE_PACKS / VALE, [])
    warnings = named_partnerships(national, [vale])
    assert [w.split(" (")[0] for w in warnings] == [
        "topics.yaml: widget-review: answer: names the partnership example-vale",
        "topics.yaml: sprocket-audit: more: names the partnership example-vale",
    ]
    assert "its area 'Example Vale'" in warnings[0] and "its front_door phone" in warnings[0]
    assert "its short name 'EVSCP'" in warnings[0]
    assert "partnerships/example-vale/topics.yaml" in warnings[0]
    assert named_partnerships(SMALL_KNOWLEDGE, [vale]) == []
    # `check` shows them as warnings: the knowledge still works.
    settings = (
        f"knowledge_dir: {national}\npartnerships_dir: {FIXTURE_PACKS}\npartnership: {VALE}\n"
    )
    result = run_main(tmp_path, "check", settings=settings)
    assert result.returncode == 0, result.stderr
    assert "warning: topics.yaml: widget-review: answer: names the partnership" in result.stderr


def test_the_shipped_national_knowledge_names_no_partnership_outside_its_topics() -> None:
    """Bedford's documents live in its pack; what national topics still say of Bedford is being
    moved to its pack's topics.yaml (check lists each)."""
    bedford = read_pack(SHIPPED_BEDFORD, [])
    warnings = named_partnerships(SHIPPED_BEDFORD.parent.parent, [bedford])
    files = {w.split(":")[0] for w in warnings}
    assert "reports.yaml" not in files and "actions.yaml" not in files


def test_eval_runs_for_a_chosen_pack(tmp_path: Path) -> None:
    questions = tmp_path / "q.yaml"
    questions.write_text(
        "reports:\n  - {q: child v review, expect: [child-v-review]}\n"
        "  - {q: patrick report, expect: [patrick-scr]}\n",
        encoding="utf-8",
    )
    settings = f"knowledge_dir: {SMALL_KNOWLEDGE}\npartnerships_dir: {FIXTURE_PACKS}\n"
    result = run_main(
        tmp_path, "eval", str(questions), "--json", "--partnership", VALE, settings=settings
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    outcomes = {m["q"]: m for m in summary.get("misses", [])}
    assert "child v review" not in outcomes, summary  # Example Vale's own document
    assert "patrick report" in outcomes, summary  # Bedford's is not in Example Vale's pack
    assert pack_id("Example Vale  Partnership!") == "example-vale-partnership"


def test_a_pack_replaces_national_entries_in_their_place_and_adds_its_own(tmp_path: Path) -> None:
    pack = tmp_path / VALE
    shutil.copytree(FIXTURE_PACKS / VALE, pack)
    topics = yaml_support.load((pack / "topics.yaml").read_text())
    national = yaml_support.load((SMALL_KNOWLEDGE / "topics.yaml").read_text())["topics"][0]
    topics["topics"].append({**national, "answer": "In Example Vale, widget reviews are weekly."})
    (pack / "topics.yaml").write_text(yaml_support.dump(topics), encoding="utf-8")
    reports = yaml_support.load((pack / "reports.yaml").read_text())
    reports["groups"].append({"id": "reviews", "title": "Reviews read in Example Vale"})
    (pack / "reports.yaml").write_text(yaml_support.dump(reports), encoding="utf-8")
    knowledge = load_knowledge(SMALL_KNOWLEDGE, pack, semantic=False)
    assert list(knowledge.topics) == ["widget-review", "sprocket-audit", "vale-advice-line"]
    assert knowledge.topics["widget-review"].answer == "In Example Vale, widget reviews are weekly."
    assert [(g.id, g.title) for g in knowledge.groups.values()] == [
        ("reviews", "Reviews read in Example Vale"),
        ("vale-local", "Example Vale's own reviews"),
    ]
