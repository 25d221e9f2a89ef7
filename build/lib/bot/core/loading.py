"""Everything the assistant reads from files, loaded and validated together: `load_all`.

`check`, start-up (bot/app.py) and /reload (handlers/admin.py) all use it, so they accept and
refuse the same files and report the same problems, all at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config import addresses
from config.registry import Registry, load_registry
from config.settings import Settings
from config.validation import KnowledgeError, Problems
from knowledge.cache import Cache, library_stamp
from knowledge.document import check_template
from knowledge.loader import Knowledge, load_knowledge


@dataclass(frozen=True)
class Loaded:
    knowledge: Knowledge
    registry: Registry


def load_all(settings: Settings, semantic: bool = True) -> Loaded:
    """The knowledge base and the registry, or KnowledgeError listing every problem of both.

    Blocking (it parses files): async callers run it in a thread. With `semantic`, the names'
    vectors start being computed (or read from the cache) in the background."""
    problems: list[str] = []
    knowledge = registry = None
    cache = Cache(settings.cache_path)
    try:
        knowledge = load_knowledge(settings.knowledge_path, settings.pack_path, semantic, cache)
        template = Problems()
        check_template(settings.template_path, knowledge.form, template, cache)
        problems += template.items
    except KnowledgeError as exc:
        problems += exc.problems
    try:
        registry = _load_registry(settings.registry_path, cache)
    except KnowledgeError as exc:
        problems += exc.problems
    if problems or knowledge is None or registry is None:
        raise KnowledgeError(problems)
    return Loaded(knowledge, registry)


def _load_registry(path: Path, cache: Cache) -> Registry:
    """The registry at `path`, its addresses checked unless this very file passed before with
    the same address rule (config/addresses.py and its library): importing the checker and
    compiling its patterns cost a tenth of `ask`."""
    inputs = _registry_inputs(path)
    if inputs is None or not cache.passed("registry", inputs):
        registry = load_registry(path)
        if inputs is not None and _registry_inputs(path) == inputs:
            cache.note_passed("registry", inputs)
        return registry
    registry = load_registry(path, addresses_checked=True)
    if _registry_inputs(path) != inputs:  # changed while it was read: checked in full
        return load_registry(path)
    return registry


def _registry_inputs(path: Path) -> list[bytes | str] | None:
    try:
        text = path.read_bytes()
    except OSError:
        return None  # reported by load_registry
    rule = Path(str(addresses.__file__)).read_bytes()
    return [text, rule, library_stamp("email_validator")]
