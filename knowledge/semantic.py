"""Meaning as a second signal: sentence embeddings of every topic's and action's names.

The lexical matcher (search.py) knows names, typos and nicknames, but not that "purpose of" and
"what is", or "stop" and "replaced", ask the same thing. A small static embedding model
(wordllama, MIT, 256 dimensions, shipped inside its wheel) does: a text's vector is the average
of its tokens' vectors, so embedding a query costs tens of microseconds and needs no GPU.

The model (knowledge/embedding.py: wordllama's files, read without importing wordllama) is
loaded once per process, in a background thread, so that start-up (the first poll) does not
wait for it; a knowledge base gets its names' vectors in the same thread (from the vector cache
when the names are unchanged, else embedded and cached), and `ready()` waits for both. Nothing
is ever downloaded.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

from knowledge.cache import Cache
from knowledge.embedding import StaticModel
from knowledge.per_message import once
from knowledge.search import ABBREVIATIONS, words

log = logging.getLogger(__name__)


class Embedder(Protocol):
    def embed(self, texts: list[str], norm: bool = ...) -> Any: ...


_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="semantic")
_model_lock = threading.Lock()
_model: Future[Embedder] | None = None
# One embedding at a time: the tokenizer (Hugging Face tokenizers) refuses to be used from two
# threads at once ("Already borrowed"), and a build in the background may overlap a query.
_embedding = threading.Lock()


def load_model() -> Embedder:
    """wordllama's shipped model, from its own package folder, never from the network."""
    return StaticModel()


def model_future() -> Future[Embedder]:
    """The process's model, loading in the background from the first call on."""
    global _model
    with _model_lock:
        # A load that failed is tried again by the next knowledge base (/reload), not never.
        if _model is None or (_model.done() and _model.exception() is not None):
            _model = _executor.submit(load_model)
        return _model


def text_vector(model: Embedder, prepared: str) -> Any:
    """The normalised float32 vector of one prepared text (a query), under the embedding lock;
    once per message (knowledge/per_message.py): the safety screen's second opinion and the
    matcher (and a tie-break after it) embed the same words, each time about 40 microseconds."""

    def embed() -> Any:
        with _embedding:
            embedded = model.embed([prepared], norm=True)
        return np.asarray(embedded, dtype=np.float32)[0]

    return once(model, "vector", prepared, embed)


def embed_all(model: Embedder, texts: list[str], cache: Cache | None) -> np.ndarray:
    """The normalised vectors of `texts`, through `cache` (call under the embedding lock)."""
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    return (cache or Cache(None)).vectors(model, texts)


def prepare(text: str) -> str:
    """The text the model sees: folded words, abbreviations spelled out (the model does not know
    that an SCR is a serious case review)."""
    out: list[str] = []
    folded = " ".join(words(text))
    # Courtesy alone ("thanks") is still embedded as it is.
    folded = _COURTESY.sub(" ", f" {folded} ").strip() or folded
    for word in folded.split():
        out.extend(ABBREVIATIONS.get(word, word).split())
    return " ".join(out)


# Courtesy and preamble: they carry no meaning of their own but, averaged into a short
# question's vector, pull it towards whichever stored line has the same preamble.
_COURTESY = re.compile(
    r"(?<= )(?:please|pls|plz|thanks|thank you|cheers|hi|hello|hey|just|quick question|"
    r"(?:can|could|would) you (?:please )?(?:tell|explain to|help) me(?: about)?|"
    r"i (?:need|want|would like|d like) to (?:know|understand|find out)(?: about)?|"
    r"i (?:was|am|m) wondering(?: if)?|do you know)(?= )"
)


class SemanticIndex:
    """The vectors of every name of the given entries, computed in the background."""

    def __init__(
        self,
        entries: Iterable[tuple[str, Sequence[str]]],
        model: Callable[[], Future[Embedder]] | None = None,
    ) -> None:
        self._load_model = model or model_future  # tests hand in a model that fails
        self._ids: list[str] = []
        self._names: list[str] = []
        for entry_id, names in entries:
            for name in names:
                self._ids.append(entry_id)
                self._names.append(name)
        self._entry_ids = list(dict.fromkeys(self._ids))
        self._entry_array = np.array(self._entry_ids, dtype=object)  # picked in score order
        numbers = {entry_id: n for n, entry_id in enumerate(self._entry_ids)}
        self._row_entry = np.array([numbers[i] for i in self._ids], dtype=np.int64)
        # Each entry's names are one run of rows (as the entries are given, unless an entry
        # comes twice): each entry's best is then one `maximum.reduceat` over the runs, where
        # `maximum.at` (any order) took a fifth of scoring a question.
        steps = np.diff(self._row_entry)
        self._runs: np.ndarray | None = (
            np.flatnonzero(np.concatenate(([1], steps))).astype(np.int64)
            if len(self._ids) and bool(np.all((steps == 0) | (steps == 1)))
            else None
        )
        self._future: Future[None] | None = None
        self._lock = threading.Lock()
        self._model: Embedder | None = None
        self._matrix: np.ndarray | None = None
        self._failed = False
        self._row_of: dict[str, int] | None = None

    @functools.cached_property
    def _texts(self) -> list[str]:
        """The names as the model sees them: prepared in the background, where they are
        embedded (on the main thread they held up every start)."""
        return [prepare(name) for name in self._names]

    def start(self, cache: Cache | None = None) -> None:
        """Begin loading the model (if needed) and the names' vectors (from `cache` when it
        holds them), in the background."""
        with self._lock:
            if self._future is None:
                model = self._load_model()
                self._future = _executor.submit(self._build, model, cache)

    def _build(self, model: Future[Embedder], cache: Cache | None) -> None:
        try:
            self._build_from(model.result(), cache)
        except Exception:
            # Matching goes on by words alone rather than failing every question.
            log.exception("the semantic model could not be loaded: matching by words only")
            self._failed = True

    def _build_from(self, embedder: Embedder, cache: Cache | None = None) -> None:
        with _embedding:
            matrix = embed_all(embedder, self._texts, cache)
        self._matrix = matrix if self._texts else np.zeros((0, 1), dtype=np.float32)
        self._model = embedder

    async def ready(self) -> None:
        """Wait (without blocking the event loop) until queries can be scored."""
        self.start()
        assert self._future is not None
        if not self._future.done():
            await asyncio.wrap_future(self._future)

    def wait(self) -> None:
        """`ready()` for synchronous callers (eval, the benchmark, `check`)."""
        self.start()
        assert self._future is not None
        self._future.result()

    def scores(self, text: str) -> dict[str, float]:
        """Each entry's best cosine similarity (-1 to 1) to `text`, best first; nothing if the
        model could not be loaded. Call after `ready()`. Worked out once per message (three
        rules ask it of the same text); the caller must not change it."""
        if self._failed:
            return {}
        if self._model is None or self._matrix is None:
            raise RuntimeError("the semantic index is not ready: await ready() first")
        model, matrix = self._model, self._matrix
        return once(self, "scores", text, lambda: self._scores(model, matrix, text))

    def _scores(self, model: Embedder, matrix: np.ndarray, text: str) -> dict[str, float]:
        prepared = prepare(text)
        if not prepared or not self._ids:
            return {}
        similarity = matrix @ text_vector(model, prepared)
        best = np.full(len(self._entry_ids), -1.0, dtype=np.float32)
        if self._runs is not None:
            np.maximum(best, np.maximum.reduceat(similarity, self._runs), out=best)
        else:
            np.maximum.at(best, self._row_entry, similarity)
        order = np.argsort(-best)
        return dict(zip(self._entry_array[order].tolist(), best[order].tolist(), strict=True))

    def similarities(self, text: str, candidates: Sequence[str]) -> list[float]:
        """The cosine similarity of `text` to each of `candidates` (names of entries, whose
        vectors are already computed; others are embedded now). Zeros without the model."""
        if self._failed or self._model is None or self._matrix is None:
            return [0.0] * len(candidates)
        prepared = prepare(text)
        if not prepared:
            return [0.0] * len(candidates)
        vector = text_vector(self._model, prepared)
        rows = self._rows()
        out = []
        for candidate in candidates:
            name = prepare(candidate)
            row = rows.get(name)
            other = self._matrix[row] if row is not None else text_vector(self._model, name)
            out.append(float(other @ vector))
        return out

    def _rows(self) -> dict[str, int]:
        if self._row_of is None:
            self._row_of = {text: n for n, text in enumerate(self._texts)}
        return self._row_of

    def support(self, text: str, entry_ids: Sequence[str], k: int = 3) -> dict[str, float]:
        """For each of `entry_ids`, the mean similarity of its `k` phrasings nearest `text`:
        how many of its lines are near, not just the nearest one. Used only to tell apart
        entries whose best lines tie (one stray line counts for less than several)."""
        if self._failed or self._model is None or self._matrix is None:
            return {}
        prepared = prepare(text)
        if not prepared:
            return {}
        similarity = self._matrix @ text_vector(self._model, prepared)
        out: dict[str, float] = {}
        for entry_id in entry_ids:
            if entry_id not in self._entry_ids:
                continue
            number = self._entry_ids.index(entry_id)
            own = np.sort(similarity[self._row_entry == number])[::-1][:k]
            out[entry_id] = float(own.mean())
        return out
