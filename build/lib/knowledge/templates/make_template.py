"""Writes knowledge/templates/notification.docx, the notification's Word template.

Run it once to (re)create the shipped template: `python knowledge/templates/make_template.py`.
After that the partnership edits the .docx in Word (wording, logo, fonts, layout) and keeps the
docxtpl tags; `python main.py check` says if a tag no longer resolves. The script is the record
of how the shipped template was made, so that its structure can be reviewed in code:

- real headings (Heading 1 for the title, Heading 2 for each section), so screen readers and
  Word's navigation pane see the structure;
- one table per section, its header row marked to repeat on every page;
- the document's language en-GB (spelling and screen-reader voice);
- the sections and their rows as docxtpl loops, so a new form field needs no template change.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.document import Document as WordDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

HERE = Path(__file__).resolve().parent
LANGUAGE = "en-GB"


def set_language(document: WordDocument) -> None:
    """en-GB as the default language of every style, and in the document's properties."""
    styles = document.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    if defaults is None:
        defaults = OxmlElement("w:docDefaults")
        styles.insert(0, defaults)
    run_default = defaults.find(qn("w:rPrDefault"))
    if run_default is None:
        run_default = OxmlElement("w:rPrDefault")
        defaults.insert(0, run_default)
    run_properties = run_default.find(qn("w:rPr"))
    if run_properties is None:
        run_properties = OxmlElement("w:rPr")
        run_default.append(run_properties)
    lang = run_properties.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        run_properties.append(lang)
    lang.set(qn("w:val"), LANGUAGE)
    lang.set(qn("w:eastAsia"), LANGUAGE)
    settings = document.settings.element
    theme_lang = settings.find(qn("w:themeFontLang"))
    if theme_lang is not None:
        theme_lang.set(qn("w:val"), LANGUAGE)
    document.core_properties.language = LANGUAGE


def repeat_as_header(row: object) -> None:
    """Mark a table row as a header row, repeated at the top of each page the table spans."""
    tr = row._tr  # type: ignore[attr-defined]
    properties = tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    properties.append(header)


def build() -> WordDocument:
    document = Document()
    set_language(document)
    core = document.core_properties
    core.title = "Significant incident notification"
    core.subject = "A notification to the safeguarding children partnership"
    core.author = "Safeguarding assistant"
    core.keywords = "OFFICIAL-SENSITIVE"
    document.styles["Normal"].font.size = Pt(11)

    section = document.sections[0]
    section.left_margin = section.right_margin = Cm(2)
    section.header.paragraphs[0].text = "OFFICIAL-SENSITIVE · {{ partnership }}"

    document.add_heading("{{ title }} {{ reference }}", level=1)
    document.add_paragraph("{{ partnership }}")
    document.add_paragraph("Submitted on {{ submitted }}.")
    document.add_paragraph(
        "This document holds personal data about a child. Keep it only in the partnership's "
        "secure case records and share it only with those who need it for the review."
    )
    document.add_paragraph("{%p for section in sections %}")
    document.add_heading("{{ section.title }}", level=2)
    table = document.add_table(rows=4, cols=2)
    table.style = document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    header = table.rows[0]
    for cell, text in zip(header.cells, ("Question", "Answer"), strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    repeat_as_header(header)
    table.rows[1].cells[0].text = "{%tr for row in section.rows %}"
    table.rows[2].cells[0].text = "{{ row.label }}"
    table.rows[2].cells[1].text = "{{ row.answer }}"
    table.rows[3].cells[0].text = "{%tr endfor %}"
    for row in table.rows:
        row.cells[0].width = Cm(6)
        row.cells[1].width = Cm(11)
    document.add_paragraph("{%p endfor %}")
    document.add_paragraph(
        "Sent by the partnership's safeguarding assistant. The answers are as the liaison "
        "officer gave them."
    )
    return document


def main(target: Path = HERE / "notification.docx") -> int:
    build().save(str(target))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(Path(a) for a in sys.argv[1:])))
