"""wordllama's static model, read directly, and the knowledge's vectors cached between runs.

wordllama (MIT) is a static token-embedding model: a text's vector is the mean of its tokens'
rows in an embedding matrix, normalised. Importing wordllama costs a quarter of a second (it
pulls in pydantic, requests and toml for its training and download code) and its loader turns
the whole 32,000 x 256 matrix into float32 (32 MB). `StaticModel` reads the same two files from
wordllama's installed package without importing it: the tokenizer with the `tokenizers` library,
and the weights memory-mapped as stored (float16), so only the rows of the tokens actually seen
are ever read. `embed` is wordllama's `WordLlamaInference.embed` step by step, so its vectors
are equal, bit for bit (tests/test_embedding.py compares them with wordllama's own).

The vectors of the knowledge's own texts are kept between runs by knowledge/cache.py.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import struct
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# The model wordllama loads by default (WordLlama.load()): its l2_supercat configuration at 256
# dimensions, as shipped inside its wheel.
WEIGHTS = Path("weights") / "l2_supercat_256.safetensors"
TOKENIZER = Path("tokenizers") / "l2_supercat_tokenizer_config.json"
TENSOR = "embedding.weight"
BATCH = 64  # wordllama's batch size: texts of one batch are padded to the longest


def package_folder() -> Path:
    """wordllama's installed folder, found without importing the package."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the wordllama package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def read_safetensors(path: Path, name: str) -> np.ndarray:
    """One tensor of a .safetensors file, memory-mapped read-only (the format: an 8-byte
    little-endian header length, a JSON header, then the raw little-endian data)."""
    with path.open("rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    entry = header[name]
    dtypes = {"F16": "<f2", "F32": "<f4", "BF16": None}
    dtype = dtypes.get(entry["dtype"])
    if dtype is None:
        raise ValueError(f"{path.name}: {name}: unsupported dtype {entry['dtype']}")
    start, end = entry["data_offsets"]
    shape = tuple(entry["shape"])
    if end - start != int(np.prod(shape)) * np.dtype(dtype).itemsize:
        raise ValueError(f"{path.name}: {name}: the data does not match its shape")
    return np.memmap(path, dtype=dtype, mode="r", offset=8 + length + start, shape=shape)


class StaticModel:
    """wordllama's default model, from its package's files (never downloaded)."""

    def __init__(self, folder: Path | None = None) -> None:
        from tokenizers import Tokenizer  # the Rust tokenizer, as wordllama uses it

        folder = folder or package_folder()
        self.files = (folder / WEIGHTS, folder / TOKENIZER)
        self.weights = read_safetensors(self.files[0], TENSOR)
        self.tokenizer = Tokenizer.from_file(str(self.files[1]))
        # wordllama's settings for all inference
        self.tokenizer.enable_padding()
        self.tokenizer.no_truncation()

    def fingerprint(self) -> str:
        """Which model this is, for the cache: its files' names, sizes and modification times."""
        parts = []
        for path in self.files:
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
        return "|".join(parts)

    def embed(self, texts: list[str], norm: bool = False) -> np.ndarray:
        """The texts' vectors, as `WordLlamaInference.embed(texts, norm)` computes them."""
        out = np.empty((len(texts), self.weights.shape[1]), dtype=np.float32)
        for i in range(0, len(texts), BATCH):
            chunk = texts[i : i + BATCH]
            if len(chunk) == 1:
                # One text needs no padding; encode() spares encode_batch's thread pool.
                encoded = [self.tokenizer.encode(chunk[0], add_special_tokens=False)]
            else:
                encoded = self.tokenizer.encode_batch(
                    chunk, is_pretokenized=False, add_special_tokens=False
                )
            ids = np.array([e.ids for e in encoded], dtype=np.int32)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
            np.clip(ids, 0, self.weights.shape[0] - 1, out=ids)
            # float16 -> float32 is exact: the same values as wordllama's float32 matrix
            tokens = self.weights[ids].astype(np.float32)
            mask_sum = np.maximum(mask.sum(axis=1, keepdims=True), 1.0).astype(np.float32)
            pooled = np.sum(tokens * mask[..., np.newaxis], axis=1, dtype=np.float32) / mask_sum
            if norm:
                pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            out[i : i + pooled.shape[0]] = pooled
        return out
