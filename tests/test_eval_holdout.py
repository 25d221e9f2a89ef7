"""Floors on the practice set and on the hold-out sets, so CI catches a regression in what
generalises. The hold-out sets (tests/eval/holdout.yaml, tests/eval/urgent_holdout.txt) were
written before any tuning and are never edited to fit; the floors are the figures reached
(docs/urgent.md, "Measured"), rounded down."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.assistant import Assistant
from bot.cli.evaluation import (
    Summary,
    read_questions,
    read_urgent_lines,
    run_eval,
    run_urgent_eval,
)
from tests.cli import run_main

EVAL = Path(__file__).resolve().parent / "eval"

# (file, floor on topics and reports together, floor on out-of-scope questions refused)
# The practice set (questions.yaml: 0.97 on topics and reports, every out-of-scope question
# refused) is scored once, with its other floors, in tests/test_eval.py.
QUESTION_FLOORS = [
    # issue 21's one decision (2026-12): 95.7%; new topics (young carers, children missing
    # education) now take some questions the set expected elsewhere
    ("holdout.yaml", 0.95, 1.0),
    # written after the hold-out sets; its misses show what paraphrases alone cannot reach
    # (84.3% in all before the content round of docs/eval.md; its misses were then looked at)
    ("fresh.yaml", 0.92, 1.0),
    # written before the matcher's second round (docs/benchmarks.md, "Matching on unseen
    # questions"); one of its lines was then looked at to set ABOUT_MARGIN (knowledge/matching.py)
    ("fresh2.yaml", 0.94, 1.0),
    # written blind from topic ids and titles, before the topics it names were added
    # (docs/eval.md); "i need a gp appointment" still gets a document's yes-or-no question
    ("fresh3.yaml", 0.94, 0.9),
    # written after that content round and measured before any change for it; its case-specific
    # requests in the new topics' words ("is mia on a child protection plan") were answered
    # with the topic until knowledge/casework.py (docs/eval.md)
    ("fresh4.yaml", 0.87, 0.95),
    # a first check of sharing-nudes and forced-marriage, written before them
    ("fresh5.yaml", 0.88, 0.7),
    # the same for looked-after-children and self-harm; "how do i become a foster carer" was
    # answered with private fostering until the 2026-11-30 fresh7 round (docs/eval.md)
    ("fresh6.yaml", 0.8, 0.5),
    # written blind (ids, titles and questions.yaml's style only), committed before measuring:
    # 84.1% in all when first measured (topics 84.9%, out of scope 69.2%); 96.5% after the
    # phrasings its misses showed were lacking (docs/eval.md)
    ("fresh7.yaml", 0.95, 0.9),
    # written before the online-safety topic: 8.3% of its topic questions before, 100% after
    ("fresh8.yaml", 0.9, 1.0),
    # long, role-framed questions, not blind; 78.4% in all when first measured, 96.1% after
    ("fresh9.yaml", 0.93, 1.0),
    # terse questions and office or case-specific requests; 95.9% in all when first measured
    ("fresh10.yaml", 0.97, 0.9),
    # the sexual-abuse topic's check, written by its author after it (not blind)
    ("fresh11.yaml", 0.9, 1.0),
    # the learning-themes and consent-to-treatment topics' check, by their author (not blind)
    ("fresh20.yaml", 0.85, 1.0),
    # the signs-of-abuse topic's check, by its author (not blind): 88.9% first, "fii" then
    # expanded like "cse"
    ("fresh21.yaml", 0.88, 1.0),
    # a second blind round (ids, titles, questions.yaml's style; other voices), committed before
    # measuring: 90.9% in all when first measured (topics 91.1%, reports 93.3%, out of scope
    # 87.5%); 99.2% after the phrasings and the casework sign its misses showed (docs/eval.md)
    ("fresh12.yaml", 0.97, 0.93),
    # written in that round after its first fixes (not blind): 89.2% in all when first measured
    ("fresh13.yaml", 0.94, 0.85),
    # a third blind round (search-box, voice-to-text and non-native messages; documents in many
    # forms), committed before measuring: 91.0% in all when first measured (topics 96.1%,
    # reports 80.0%, out of scope 87.5%); 95.9% after the fixes of docs/eval.md's fresh14 round
    ("fresh14.yaml", 0.95, 0.93),
    # not blind: that round's probes, a guard on its fixes (46.2% in all before them)
    ("fresh15.yaml", 0.95, 0.9),
    # not blind: Bedford Borough Council's other business, and Bedford questions (35.0% before)
    ("fresh16.yaml", 0.9, 0.9),
    # a fourth blind round (cases described with "does this meet the threshold"; a liaison
    # officer on the form and sign-in; police, housing, youth work, governors), committed before
    # measuring: 67.6% in all when first measured (topics 58.8%); 88.2% after (docs/eval.md)
    ("fresh22.yaml", 0.84, 0.9),
    # the development set 21c's questions the judge found right by their content (2026-12-07)
    ("dev21c.yaml", 0.97, 0.92),
]
# (file, floor on live-concern recall, ceiling on knowledge questions given the route)
URGENT_FLOORS = [
    ("urgent.txt", 1.0, 0.0),
    ("urgent_holdout.txt", 1.0, 0.0),
    # written after the first round of tuning; 92.5% unseen, then its misses' words were added
    ("urgent_fresh.txt", 0.97, 0.0),
    # written blind after that; 92% recall and 1 of 25 flagged when first measured, then fixed
    ("urgent_fresh2.txt", 0.96, 0.04),
    # written after urgent_fresh2's round; 85% recall, 0 of 20 flagged when first measured
    ("urgent_fresh3.txt", 0.95, 0.05),
    # written blind with fresh12; 90% recall, 0 of 20 flagged when first measured
    ("urgent_fresh4.txt", 0.95, 0.05),
    # written blind with fresh14; 85.7% recall, 1 of 20 flagged when first measured
    ("urgent_fresh5.txt", 0.95, 0.05),
    # not blind: that round's probes (40% recall, 2 of 10 flagged before its fixes)
    ("urgent_fresh6.txt", 0.9, 0.1),
    # not blind: the round's later probes (0% recall before its fixes)
    ("urgent_fresh7.txt", 0.9, 0.1),
    # written blind with fresh22; 93.3% recall, 1 of 15 flagged when first measured
    ("urgent_fresh8.txt", 0.93, 0.1),
    # written blind as a development set (2026-12-07): 100% recall, 1 of 15 flagged when first
    # measured; tuned on since
    ("urgent_dev21c.txt", 1.0, 0.0),
    # the blind sets A to E (2026-12-07), each scored once when written (docs/eval.md); then
    # used: the kinds of live concern they missed (a child missing from "our" home, "never
    # came home", a goodbye text, an online contact meeting a child tonight, FGM in everyday
    # words, a registered sex offender, a sexual act seen) were added as general phrases, and
    # the look-alikes they flagged (a training scenario or case study, a policy, a past case
    # being recorded, the practitioner's own support) settled
    ("urgent_blind21a.txt", 1.0, 0.0),
    ("urgent_blind21b.txt", 1.0, 0.0),
    ("urgent_blind21c.txt", 1.0, 0.0),
    ("urgent_blind21d.txt", 1.0, 0.0),
    ("urgent_blind21e.txt", 1.0, 0.0),
    # the blind sets F and G (2026-12-07), scored once (13 of 15 each; 4 and 2 of 15 flagged),
    # then used: a fire where children are, a threat to smother a baby, "taken loads of
    # paracetamol" added; a fire drill, a case already handled (passed to the LADO, MARAC
    # held, case closed) asked about, and the practitioner's own wellbeing settled
    ("urgent_blind21f.txt", 1.0, 0.0),
    ("urgent_blind21g.txt", 1.0, 0.0),
    # written as a development set (2026-12-08) by a helper that had not read knowledge/:
    # 14 of 15 routed, 2 of 15 flagged when first measured; tuned on since (adults plying a
    # child with drink somewhere she does not know; a handled case asked about afterwards)
    ("urgent_dev21i.txt", 1.0, 0.0),
    # the blind set H (2026-12-08), scored once after the round's work: 13 of 15 routed, 1 of
    # 15 flagged. Its two misses were live dangers (30 paracetamol taken "about an hour ago", a
    # goodbye text from a bridge), so an overdose said with "about" and a place to fall from
    # were added after the scoring; the set is used since
    ("urgent_blind21h.txt", 1.0, 0.07),
    # the blind set J (2026-12-08), written after the round's work and scored once: 13 of 15
    # routed, 1 of 15 flagged. Its two misses were live dangers (a father "stinking of drink"
    # driving off with a 3 year old; a man shouting and a child screaming behind a door), so
    # those words were added after the scoring; the set is used since
    ("urgent_blind21j.txt", 1.0, 0.0),
    # the blind sets K (written at the round's start, 2026-12-08) and L (written after its
    # work), scored once on 8649168: K routed 13 of 15 live concerns and flagged 3 look-alikes,
    # L routed 14 of 15 and flagged 2. The three missed were live dangers (a child missing from
    # an after-school club, "last seen 20 mins ago"; a father on his way with a threat; a girl
    # of "16 y/o", written so, with a controlling man in the waiting room, read as an adult's
    # matter and not screened), fixed after the scoring; the sets are used since
    ("urgent_blind21k.txt", 1.0, 0.0),
    ("urgent_blind21l.txt", 1.0, 0.0),
    # the blind sets M and N (2026-12-08), written after the round's work and scored once on
    # d2d8bc5: M routed 15 of 15 and flagged none; N routed 13 of 15 and flagged 1. N's misses
    # were live dangers (a partner who "threatened to kill mum and the newborn" and "will be back
    # in 10 min"; a child who says "if I go home tonight he'll kill me"), fixed after the
    # scoring; both sets are used since
    ("urgent_blind21m.txt", 1.0, 0.0),
    ("urgent_blind21n.txt", 1.0, 0.0),
    # not blind: probes of the rules that settled K's and L's look-alikes, with live concerns
    # that share their words
    ("urgent_probes21k.txt", 1.0, 0.0),
    # 2026-12-08, later: the look-alikes still flagged in C, J, fresh and fresh5 settled as
    # kinds (training on what a published case showed, who to contact about an allegation in
    # general, an audit of closed cases, a referral made and what follows it asked); H's (a
    # former pupil "now 40" telling of abuse in the 90s, already with the police) and fresh5's
    # ("when should I call the police rather than social care", which no topic answers better
    # than the route's contacts) are not yet
]


def in_scope(summary: Summary) -> float:
    chosen = [o for o in summary.outcomes if o.question.section in ("topics", "reports")]
    return sum(o.correct for o in chosen) / len(chosen)


@pytest.mark.parametrize(("name", "floor", "refused"), QUESTION_FLOORS)
async def test_questions_reach_their_floor(
    assistant: Assistant, name: str, floor: float, refused: float
) -> None:
    summary = await run_eval(assistant.conversation, read_questions(EVAL / name))
    assert summary.accuracy("out_of_scope") >= refused, summary.as_text()
    assert in_scope(summary) >= floor, summary.as_text()


@pytest.mark.parametrize(("name", "recall", "false_alarms"), URGENT_FLOORS)
async def test_urgent_route_reaches_its_floor(
    assistant: Assistant, name: str, recall: float, false_alarms: float
) -> None:
    summary = await run_urgent_eval(assistant.conversation, read_urgent_lines(EVAL / name))
    assert summary.recall() >= recall, summary.as_text()
    assert summary.false_alarm_rate() <= false_alarms, summary.as_text()


SMALL_URGENT = """\
# Part 1: live concerns
a 7 year old just told me her stepdad hits her
what is the capital of france
# Part 2: knowledge questions
what is a serious case review
I'm worried about a child
"""


def test_eval_of_an_urgent_file_prints_recall_precision_and_each_error(tmp_path: Path) -> None:
    lines = tmp_path / "urgent.txt"
    lines.write_text(SMALL_URGENT, encoding="utf-8")
    result = run_main(tmp_path, "eval", str(lines))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "live concerns recognised (recall)   50.0%  (1 of 2)" in out
    assert "knowledge questions given it        50.0%  (1 of 2)" in out
    assert "precision                           50.0%" in out
    assert "Live concerns missed (1):\n  'what is the capital of france'" in out
    assert '"I\'m worried about a child" (More: immediate-risk)' in out
    floor = run_main(tmp_path, "eval", str(lines), "--min", "0.9")
    assert floor.returncode == 1 and "Urgent recall 50.0% is under the floor" in floor.stderr


def test_eval_with_urgent_prints_both(tmp_path: Path) -> None:
    lines = tmp_path / "urgent.txt"
    lines.write_text(SMALL_URGENT, encoding="utf-8")
    questions = tmp_path / "q.yaml"
    questions.write_text(
        "topics:\n  - {q: 'allegation against a member of staff', expect: [lado]}\n",
        encoding="utf-8",
    )
    result = run_main(tmp_path, "eval", str(questions), "--urgent", str(lines))
    assert result.returncode == 0, result.stderr
    # The urgent reply's "More" topic is lado: the safety route with that topic one tap away.
    assert "topics         100.0% of   1" in result.stdout
    assert "answered by the urgent route: 1" in result.stdout
    assert "live concerns recognised (recall)   50.0%" in result.stdout


def test_an_urgent_file_without_parts_is_refused(tmp_path: Path) -> None:
    lines = tmp_path / "urgent.txt"
    lines.write_text("I'm worried about a child\n", encoding="utf-8")
    result = run_main(tmp_path, "eval", str(lines))
    assert result.returncode == 2
    assert "line 1: a question before '# Part 1'" in result.stderr
