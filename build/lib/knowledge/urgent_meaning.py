"""The second opinion on a possible live concern: is the message nearer, in meaning, to the
way people describe a child at risk or to the way they ask about guidance?

The phrase rules (knowledge/urgent.py) miss about one in three new phrasings of a concern
("toddler at the door of the flats in just a nappy at 10pm"), because a concern can be told in
words no list foresees. Such a message is still told like the concerns we have seen: a person,
something happening, no "what is". So when the rules find no concern but the message carries a
sign of one (a child, a relation, a harm... the `signals` groups of urgent.yaml) and is not
framed as a knowledge question, the message is compared with examples of both kinds
(urgent_examples.yaml, and every topic's `questions` as knowledge phrasings): if its nearest
live examples are nearer than its nearest knowledge ones by at least `margin`, it gets the
safety route. A knowledge question wrongly given the route costs a tap; a missed concern could
cost far more, but the margin was set on the knowledge side of every hold-out set (docs/urgent.md).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import numpy as np

from knowledge.cache import Cache
from knowledge.semantic import (
    Embedder,
    _embedding,
    _executor,
    embed_all,
    model_future,
    prepare,
    text_vector,
)

log = logging.getLogger(__name__)


class UrgentMeaning:
    """Vectors of live and knowledge examples, computed in the background on first use."""

    def __init__(
        self,
        live: Sequence[str],
        knowledge: Sequence[str],
        margin: float,
        neighbours: int,
        model: Callable[[], Future[Embedder]] | None = None,
    ) -> None:
        self._raw = (tuple(live), tuple(knowledge))
        self.margin = margin
        self.neighbours = neighbours
        self._load_model = model or model_future
        self._lock = threading.Lock()
        self._future: Future[None] | None = None
        self._model: Embedder | None = None
        self._live: np.ndarray | None = None
        self._knowledge: np.ndarray | None = None
        self._failed = False

    # Prepared where they are embedded, in the background: preparing 1,500 examples took a
    # tenth of `ask`'s start on the main thread.
    @functools.cached_property
    def live_texts(self) -> list[str]:
        return [p for p in map(prepare, self._raw[0]) if p]

    @functools.cached_property
    def knowledge_texts(self) -> list[str]:
        return [p for p in map(prepare, self._raw[1]) if p]

    def start(self, cache: Cache | None = None) -> None:
        """Begin embedding the examples (or reading them from `cache`), in the background."""
        with self._lock:
            if self._future is None:
                self._future = _executor.submit(self._build, self._load_model(), cache)

    def _build(self, model: Future[Embedder], cache: Cache | None) -> None:
        try:
            embedder = model.result()
            with _embedding:
                self._live = embed_all(embedder, self.live_texts, cache)
                self._knowledge = embed_all(embedder, self.knowledge_texts, cache)
            self._model = embedder
        except Exception:
            # The phrase rules still apply; the fallback and /start carry the safety line.
            log.exception("the urgent examples could not be embedded: phrase rules only")
            self._failed = True

    async def ready(self) -> None:
        self.start()
        assert self._future is not None
        if not self._future.done():
            await asyncio.wrap_future(self._future)

    def wait(self) -> None:
        """`ready()` for synchronous callers (`check`)."""
        self.start()
        assert self._future is not None
        self._future.result()

    def difference(self, text: str) -> float | None:
        """Mean similarity to the nearest live examples minus that to the nearest knowledge
        ones; None when there is nothing to compare. Call after `ready()`."""
        if self._failed or self._model is None or self._live is None or self._knowledge is None:
            return None
        prepared = prepare(text)
        if not prepared or not len(self._live) or not len(self._knowledge):
            return None
        vector = text_vector(self._model, prepared)
        k = self.neighbours
        live = np.sort(self._live @ vector)[-k:].mean()
        knowledge = np.sort(self._knowledge @ vector)[-k:].mean()
        return float(live - knowledge)

    def is_live(self, text: str) -> bool:
        difference = self.difference(text)
        return difference is not None and difference >= self.margin
