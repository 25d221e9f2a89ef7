"""The notification as a Word document: the email a real SMTP server receives carries it, it
shows every answered field (and, by default, no full name or address), the template's structure
(headings, a repeating header row, en-GB, the partnership's name), and `check` reports a tag
that does not resolve. The form is the small fixture form."""

from __future__ import annotations

import dataclasses
import io
import json
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn

from bot.app import build_assistant
from bot.assistant import Assistant
from bot.core.loading import load_all
from config.settings import ROOT, Settings
from config.validation import KnowledgeError
from knowledge.document import CONTENT_TYPE, TEMPLATE, render, sample_context
from knowledge.loader import load_knowledge
from tests import yaml_support
from tests.cli import run_main
from tests.conftest import Chat
from tests.form_fixture import FIXTURE_FORM, knowledge_with_fixture_form, with_fixture_form
from tests.signin_support import SLO, SLO_AGENCY
from tests.test_mailer import Recorder, smtp_server
from tests.test_notification import ANSWERS, INITIALS, answer_until, signed_in, start_form

PARTNERSHIP = "Example Borough Safeguarding Partnership"
CHILD = "Zebedee Quigley"
ADDRESS = "1 High Street, Bedford MK40 1AA"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, recorder: Recorder) -> Settings:
    settings = with_fixture_form(settings, tmp_path)
    return dataclasses.replace(
        settings, board=dataclasses.replace(settings.board, name=PARTNERSHIP)
    )


@pytest.fixture
async def smtp_assistant(settings: Settings, recorder: Recorder) -> AsyncIterator[Assistant]:
    """The assistant sending through a real aiosmtpd server on 127.0.0.1."""
    with smtp_server(recorder) as port:
        smtp = dataclasses.replace(settings.smtp, host="127.0.0.1", port=port, security="none")
        assistant = await build_assistant(dataclasses.replace(settings, smtp=smtp))
        try:
            yield assistant
        finally:
            await assistant.close()


def word_attachment(message: EmailMessage) -> tuple[str, bytes]:
    [part] = [p for p in message.iter_attachments() if p.get_filename()]
    assert part.get_content_type() == CONTENT_TYPE
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return str(part.get_filename()), payload


def table_rows(document: docx.document.Document) -> dict[str, str]:
    """Question -> answer, from every table of the document (header rows left out)."""
    rows = {}
    for table in document.tables:
        for row in table.rows[1:]:
            label, answer = (cell.text for cell in row.cells)
            rows[label] = answer
    return rows


def all_text(document: docx.document.Document) -> str:
    parts = [p.text for p in document.paragraphs]
    parts += [c.text for t in document.tables for r in t.rows for c in r.cells]
    parts += [p.text for s in document.sections for p in s.header.paragraphs]
    return "\n".join(parts)


async def submit(assistant: Assistant, **changes: str) -> str:
    await signed_in(assistant, "test:1")
    chat = Chat(assistant, "test:1")
    await start_form(chat)
    await answer_until(chat, **changes)
    summary = chat.replies[-1].text
    await chat.press("Submit")
    reference = chat.replies[-1].id
    assert reference is not None
    await assistant.outbox.run_once()
    return summary


async def test_email_received_by_smtp_carries_the_word_document(
    smtp_assistant: Assistant, recorder: Recorder
) -> None:
    summary = await submit(smtp_assistant)
    [received] = recorder.received
    message = received.message
    # The subject starts with the reference (the Message-ID adds a random part to it).
    reference = str(message["Subject"]).split(" ", 1)[0]
    assert str(message["Message-ID"]).startswith(f"<{reference}.")
    filename, content = word_attachment(message)
    assert filename == f"{reference}.docx"
    assert f"attached as a Word document, {filename}" in str(message.get_body(("plain",)))
    document = docx.Document(io.BytesIO(content))

    # Every answered field, as the summary showed it.
    rows = table_rows(document)
    shown = {}
    for line in summary.splitlines():
        label, sep, answer = line.partition(": ")
        if sep and not line.startswith("Please"):
            shown[label] = answer
    shown["Summary"] = ANSWERS["summary"]  # a long answer: on the lines after its label
    for label, answer in shown.items():
        assert rows.get(label) == answer, (label, rows.get(label), answer)
    assert rows["Child's initials"] == INITIALS
    assert rows["Agency"] == SLO_AGENCY and rows["Contact email"] == SLO
    assert "<script>alert(1)</script> & a burn" in rows["Summary"], "user text kept as text"
    # Default settings: no full name or address anywhere in the document.
    text = all_text(document)
    assert "Child's name" not in rows and "Address" not in rows
    assert CHILD not in text and ADDRESS not in text

    # The template's structure: real headings, a header row repeated on each page, en-GB, the
    # partnership's name from the settings.
    styles = [(str(p.style.name if p.style else ""), p.text) for p in document.paragraphs]
    styles = [(style, text) for style, text in styles if style.startswith("Heading")]
    assert styles[0] == ("Heading 1", f"Test Incident Notification {reference}")
    assert ("Heading 2", "The child") in styles and ("Heading 2", "Next steps") in styles
    for table in document.tables:
        header = table.rows[0]
        assert [c.text for c in header.cells] == ["Question", "Answer"]
        properties = header._tr.trPr
        assert properties is not None and properties.find(qn("w:tblHeader")) is not None
    lang = document.styles.element.find(qn("w:docDefaults")).find(".//" + qn("w:lang"))
    assert lang.get(qn("w:val")) == "en-GB"
    assert document.core_properties.language == "en-GB"
    assert PARTNERSHIP in document.sections[0].header.paragraphs[0].text
    assert PARTNERSHIP in [p.text for p in document.paragraphs]


async def test_full_identification_puts_name_and_address_in_the_document(
    settings: Settings, recorder: Recorder
) -> None:
    full = dataclasses.replace(
        settings, form=dataclasses.replace(settings.form, identify_child="full")
    )
    with smtp_server(recorder) as port:
        smtp = dataclasses.replace(full.smtp, host="127.0.0.1", port=port, security="none")
        assistant = await build_assistant(dataclasses.replace(full, smtp=smtp))
        try:
            await submit(assistant, child_name=CHILD, child_address=ADDRESS)
        finally:
            await assistant.close()
    rows = table_rows(docx.Document(io.BytesIO(word_attachment(recorder.received[0].message)[1])))
    assert rows["Child's name"] == CHILD and rows["Address"] == ADDRESS
    assert CHILD not in str(recorder.received[0].message["Subject"])


async def test_a_new_form_field_needs_no_template_change(
    settings: Settings, recorder: Recorder, tmp_path: Path
) -> None:
    data = yaml_support.load(FIXTURE_FORM.read_text(encoding="utf-8"))
    data["sections"][-1]["fields"].append(
        {
            "id": "lessons",
            "label": "Early lessons",
            "prompt": "Any early lessons?",
            "help": "Optional.",
            "type": "text",
            "required": True,
        }
    )
    form_file = tmp_path / "grown_form.yaml"
    form_file.write_text(yaml_support.dump(data), encoding="utf-8")
    grown = dataclasses.replace(
        settings, knowledge_dir=str(knowledge_with_fixture_form(tmp_path, form_file))
    )
    with smtp_server(recorder) as port:
        smtp = dataclasses.replace(grown.smtp, host="127.0.0.1", port=port, security="none")
        assistant = await build_assistant(dataclasses.replace(grown, smtp=smtp))
        try:
            await submit(assistant, lessons="Share the discharge plan with the school")
        finally:
            await assistant.close()
    rows = table_rows(docx.Document(io.BytesIO(word_attachment(recorder.received[0].message)[1])))
    assert rows["Early lessons"] == "Share the discharge plan with the school"


def template_with(tmp_path: Path, extra: str) -> Path:
    """The fixture knowledge with `extra` added as a paragraph of the template."""
    directory = knowledge_with_fixture_form(tmp_path)
    document = docx.Document(str(directory / TEMPLATE))
    document.add_paragraph(extra)
    document.save(str(directory / TEMPLATE))
    return directory


def test_check_reports_a_tag_that_does_not_resolve(tmp_path: Path, settings: Settings) -> None:
    directory = template_with(tmp_path, "Reported by {{ reporter.name }}")
    with pytest.raises(KnowledgeError) as caught:
        load_all(dataclasses.replace(settings, knowledge_dir=str(directory)), semantic=False)
    assert caught.value.problems == [
        "templates/notification.docx: -: tags: a tag does not resolve: 'reporter' is undefined"
    ]


def test_check_command_fails_on_a_broken_template(tmp_path: Path) -> None:
    directory = template_with(tmp_path, "{% if answers.agency %}no end")
    result = run_main(tmp_path, "check", settings=f"knowledge_dir: {directory}\n")
    assert result.returncode == 1
    assert "templates/notification.docx: -: tags: a tag is malformed" in result.stderr


def test_a_field_the_template_names_resolves_whatever_the_identity_setting(tmp_path: Path) -> None:
    # The template may place a field itself; under "initials" the name is "Not asked".
    directory = template_with(tmp_path, "Name: {{ answers.child_name }}")
    knowledge = load_knowledge(directory)
    document = docx.Document(
        io.BytesIO(render(directory / TEMPLATE, sample_context(knowledge.form)))
    )
    assert "Name: Sample text answer" in all_text(document)


def test_shipped_template_is_what_the_script_makes(tmp_path: Path) -> None:
    from knowledge.templates.make_template import main as make_template

    made = tmp_path / "made.docx"
    assert make_template(made) == 0
    shipped, remade = (docx.Document(str(path)) for path in (ROOT / "knowledge" / TEMPLATE, made))
    assert [p.text for p in shipped.paragraphs] == [p.text for p in remade.paragraphs]
    assert [c.text for t in shipped.tables for r in t.rows for c in r.cells] == [
        c.text for t in remade.tables for r in t.rows for c in r.cells
    ]


async def test_a_template_broken_after_start_up_still_sends_the_notification(
    smtp_assistant: Assistant, recorder: Recorder
) -> None:
    template = smtp_assistant.settings.template_path
    template.write_bytes(b"not a zip file")
    await submit(smtp_assistant)
    [received] = recorder.received
    message = received.message
    assert list(message.iter_attachments()) == []
    assert "The Word copy of this notification could not be made" in str(
        message.get_body(("plain",))
    )


async def test_retention_deletes_the_attachment_with_the_content(
    smtp_assistant: Assistant, recorder: Recorder
) -> None:
    await submit(smtp_assistant)
    storage = smtp_assistant.storage

    async def stored_attachments() -> list[object]:
        [(email,)] = await storage.db.fetch("SELECT email FROM outbox WHERE kind = 'notification'")
        return list(json.loads(email)["attachments"])  # read in Python: both backends

    assert len(await stored_attachments()) == 1
    assert await storage.retention.forget_delivered_content(time.time() + 1) == 1
    assert await stored_attachments() == []
