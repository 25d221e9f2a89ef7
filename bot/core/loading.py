"""Everything the assistant reads from files, loaded and validated together: `load_all`.

`check`, start-up (bot/app.py) and /reload (handlers/admin.py) all use it, so they accept and
refuse the same files and report the same problems, all at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.registry import Registry, load_registry
from config.settings import Settings
from config.validation import KnowledgeError, Problems
from knowledge.cache import Cache
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
    try:
        cache = Cache(settings.cache_path)
        knowledge = load_knowledge(settings.knowledge_path, settings.pack_path, semantic, cache)
        template = Problems()
        check_template(settings.template_path, knowledge.form, template, cache)
        problems += template.items
    except KnowledgeError as exc:
        problems += exc.problems
    try:
        registry = load_registry(settings.registry_path)
    except KnowledgeError as exc:
        problems += exc.problems
    if problems or knowledge is None or registry is None:
        raise KnowledgeError(problems)
    return Loaded(knowledge, registry)
