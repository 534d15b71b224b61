"""The parts of the catalog that need neither pydantic nor YAML: where the bundled catalog files are, how a name
is keyed, and the user cache of what was read from those files.

:mod:`rooflinekit.catalog` (the validated specs, the name index) and :mod:`rooflinekit.quick` (the command line's
quick ``predict``) both use them, so that both look names up by the same rules and both cache by the same stamp
of the same files.

A cache file is JSON in the user's cache folder (``$XDG_CACHE_HOME/rooflinekit`` or ``~/.cache/rooflinekit``)
holding a format ``version`` and the ``files`` stamp it was made from (:func:`stamp`: each file's modification
time and size); it is served only while both match (:func:`read_cache`). The cache is never required: a failure
to read or write it leaves the caller to work from the files.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterable

_PACKAGE = Path(__file__).resolve().parent


def _bundled(folder: str) -> Path:
    """A bundled catalog folder: inside the installed package, or at the top of a source checkout."""
    installed = _PACKAGE / folder
    return installed if installed.is_dir() else _PACKAGE.parent / folder


HARDWARE_DIR = _bundled("hardware_specs")
MODEL_DIR = _bundled("model_specs")
PRUNING_SUFFIX = re.compile(r"^(.*?)[\s_\-]*(\d+(?:\.\d+)?)\s*%?$")
"""A network query's trailing pruning percentage: ``ResNet-50 80%``, ``CNV_12.5`` (group 1 the name, 2 the number)."""

_NOT_KEY = re.compile(r"[^0-9a-z.]")


def normalize_name(name: str) -> str:
    """Lookup key: lower case, only letters, digits and dots (``'TX2 - maxn'`` -> ``'tx2maxn'``)."""
    return _NOT_KEY.sub("", name.casefold())


def network_key(name: str, families: set[str] | frozenset[str], pruning_pct: float | None = None) -> tuple[str, float]:
    """The ``(family, pruning_pct)`` key a network query means.

    Parameters
    ----------
    name : str
        ``ResNet-50``, ``ResNet-50 80%`` or ``CNV_12.5``: a name or alias, optionally followed by a pruning
        percentage (the share of channels kept), which is read as one only when the whole query is not itself a
        known name.
    families : set of str
        The normalized names and aliases of the catalog's networks (:func:`normalize_name`).
    pruning_pct : float, optional
        The percentage asked for explicitly; it overrides a suffix. None: the suffix's, else 100.

    Returns
    -------
    tuple of (str, float)
        The normalized family name and the pruning percentage, e.g. ``("resnet50", 80.0)``.
    """
    family, pct = normalize_name(name), 100.0
    if family not in families:
        match = PRUNING_SUFFIX.match(name.strip())
        if match and normalize_name(match.group(1)) in families:
            family, pct = normalize_name(match.group(1)), float(match.group(2))
    return family, pct if pruning_pct is None else float(pruning_pct)


def catalog_files(folder: Path, key: str) -> list[Path]:
    """The files a catalog folder's specs come from: its ``*.yaml`` files, and for ``key`` ``networks`` the
    transformer configs of its ``transformers/`` subfolder, each group in name order (a missing folder has none)."""
    files = named(folder, ".yaml")
    if key == "networks":
        files += named(folder / "transformers", ".json")
    return files


def named(folder: Path, suffix: str) -> list[Path]:
    """The entries of ``folder`` whose names end with ``suffix``, in name order: ``sorted(folder.glob("*" +
    suffix))`` without compiling a pattern (a missing folder has none)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [folder / name for name in sorted(names) if name.endswith(suffix)]


def stamp(files: Iterable[Path]) -> dict[str, list[int]]:
    """``{path: [modification time in ns, size in bytes]}`` of ``files``: what a cache made from them is keyed on.

    Raises
    ------
    OSError
        When a file cannot be examined.
    """
    return {str(p): [status.st_mtime_ns, status.st_size] for p in files for status in [p.stat()]}


def cache_file(name: str) -> Path:
    """``name`` in the user cache folder of rooflinekit (created only when a cache is written)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "rooflinekit" / name


def read_cache(path: Path, files: dict[str, list[int]], version: int) -> dict[str, Any] | None:
    """The cache at ``path`` when it is of format ``version`` and was made from exactly the files ``files`` (a
    :func:`stamp`), else None (also when it is missing or unreadable)."""
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(cached, dict) and cached.get("version") == version and cached.get("files") == files:
            return cached
    except (OSError, ValueError):
        pass
    return None


def write_cache(path: Path, content: dict[str, Any]) -> None:
    """Write a cache atomically (a temporary file renamed over it); any failure leaves no cache (it is never
    required)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(content), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass
