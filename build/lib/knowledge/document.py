"""The notification as a Word document: the partnership's template filled with docxtpl.

The template (knowledge/templates/notification.docx) is the partnership's to edit in Word; it
uses docxtpl (Jinja) tags. What a template can use is `Context` below, and nothing else: the
fields table is a loop over `sections` and their `rows`, so a new form field needs no template
change. `check_template` renders the template with sample answers at start-up and in `check`,
with every unknown tag an error (StrictUndefined), so a typo in the template is found before a
notification is submitted, not after.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, TypedDict

from config.settings import TEMPLATE
from config.validation import Problems
from knowledge.cache import Cache, library_stamp
from knowledge.form import Form

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Tab, "bell" and form feed mean "new cell/paragraph/page" to docxtpl: user text is plain text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")


class Row(TypedDict):
    label: str
    answer: str


class SectionRows(TypedDict):
    title: str
    rows: list[Row]


class Context(TypedDict):
    """Everything a template can use. `answers` maps every field id of the form to its answer
    as shown ("Not asked" when it did not apply), for a template that places a field itself."""

    partnership: str
    title: str
    reference: str
    submitted: str
    sections: list[SectionRows]
    answers: dict[str, str]


def plain(text: str) -> str:
    return _CONTROL.sub(" ", text)


def render(template: Path, context: Context) -> bytes:
    """The filled document; raises jinja2.TemplateError when a tag does not resolve."""
    # Imported here: docxtpl, python-docx and Jinja take a quarter of a second to import, and
    # only a notification's Word copy needs them (start-up's check is cached: check_template).
    import jinja2
    from docxtpl import DocxTemplate

    document = DocxTemplate(str(template))
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True)
    document.render(dict(context), environment)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def sample_context(form: Form, partnership: str = "Example Safeguarding Partnership") -> Context:
    """A context like a real one, with a sample answer for every field."""
    sections: list[SectionRows] = [
        SectionRows(
            title=section.title,
            rows=[Row(label=f.label, answer=f"Sample {f.type} answer") for f in section.fields],
        )
        for section in form.sections
    ]
    return Context(
        partnership=partnership,
        title=form.title,
        reference="SIN-2026-0001",
        submitted="3 February 2026 at 14:05",
        sections=sections,
        answers={f.id: f"Sample {f.type} answer" for f in form.fields},
    )


def describe(error: Exception) -> str:
    """What is wrong with a template, in words a partnership's staff can act on."""
    import jinja2

    if isinstance(error, jinja2.UndefinedError):
        return f"a tag does not resolve: {error.message}"
    if isinstance(error, jinja2.TemplateSyntaxError):
        return f"a tag is malformed: {error.message}"
    if isinstance(error, jinja2.TemplateError):
        return f"the template cannot be filled: {error}"
    return f"not a Word document that can be filled ({type(error).__name__})"


def check_template(path: Path, form: Form, problems: Problems, cache: Cache | None = None) -> None:
    """Render the template at `path` with sample answers; each problem goes to `problems`.
    A template that passed with the same form and libraries before (in `cache`) passes."""
    name = TEMPLATE.as_posix()
    if not path.is_file():
        problems.add(name, "-", "-", "missing: run python knowledge/templates/make_template.py")
        return
    context = sample_context(form)
    inputs: list[bytes | str] = [path.read_bytes(), repr(context), *_libraries()]
    if cache is not None and cache.passed("template", inputs):
        return
    try:
        render(path, context)
    except Exception as error:  # a broken template is a problem to report, never a crash
        problems.add(name, "-", "tags", describe(error))
        return
    if cache is not None:
        cache.note_passed("template", inputs)


def _libraries() -> list[str]:
    """Which docxtpl, python-docx and Jinja render: another version may read the same template
    differently, so it is checked again."""
    return [library_stamp(package) for package in ("docxtpl", "docx", "jinja2")]


def answers_for_template(form: Form, shown: dict[str, str]) -> dict[str, str]:
    """`shown` (field id -> answer in words) completed with every other field of the form."""
    result: dict[str, Any] = {f.id: "Not asked" for f in form.fields}
    result.update(shown)
    return {k: plain(str(v)) for k, v in result.items()}
