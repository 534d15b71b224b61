"""Software releases: each record's release key, and the fallback for a release never calibrated.

A record runs one **release** of a software stack: ``(framework, framework_version)``. A record that names no
version is keyed by the benchmark round it was submitted in (``round v1.0``): a stack submitted in another round
is another build. The **recency** of a release is the newest round among its records (``v1.1`` > ``v1.0``), else
its version number (``8.1.0`` > ``7.3.0``).

Equal releases (:func:`release_key`, the one place the rule lives): spaces around a version and a ``v`` before its
first digit are dropped, and a version made of dotted numbers drops its trailing zero components, so ``8.1``,
``8.1.0``, ``v8.1`` and ``V8.1.0`` are one release (``8.1``, ``8.10`` and ``2023.05`` stay apart: only components
equal to zero are dropped); other text (``commit a30942eb``, ``8.1.0-rc1``) is compared as written. A release is
keyed by the spelling most of its records use (ties: the longer, then the first in sort order), so the key keeps a
spelling the records wrote; a query spelled otherwise uses that key and says so
(:meth:`~.model.CalibratedPredictor.explain`).

Fallback rule (:data:`FALLBACK_RULE`): a release never calibrated takes the factors of the **newest calibrated
release of the same stack** (stacks get faster from release to release: falling back to the mean over all of a
stack's releases, old and slow ones included, was about 1.3-1.9x pessimistic on the next MLPerf Tiny round). A
stack never calibrated rests on the coarser levels (core family, global). Every fallback is reported.

Stack rule (:data:`STACK_RULE`): a query that names no stack, on a device every record of which ran one and the
same stack (:func:`device_stacks`), is keyed as that stack (its release then as the fallback rule says). A device
whose records ran several stacks, or named none, or a device no record ran on, leaves the stack unknown.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pandas as pd

from rooflinekit.compare.records import is_missing

FALLBACK_RULE = "an unseen release falls back to the newest calibrated release of the same stack"
STACK_RULE = "no stack given: the one stack every record of the device ran"
ROUND_PREFIX = "round "


_V_PREFIX = re.compile(r"^v(?=\d)", re.I)
_DOTTED_NUMBERS = re.compile(r"^\d+(?:\.\d+)*$")


def normalize_version(version: Any) -> Any:
    """A stack version as its number: surrounding spaces and a ``v`` before the first digit dropped (``' v8.1'``
    -> ``'8.1'``), as :func:`~rooflinekit.compare.records.normalize_framework` reads the version in a stack's name
    (``X-CUBE-AI v8.1`` -> ``8.1``); other text (``commit a30942eb``), non-text and missing values unchanged."""
    return _V_PREFIX.sub("", version.strip()) if isinstance(version, str) else version


def release_key(version: Any) -> Any:
    """The form in which two spellings of one release are equal (module docstring): :func:`normalize_version`, then,
    for dotted numbers, trailing zero components dropped (``'8.1.0'``, ``'v8.1'`` -> ``'8.1'``; ``'8.0.0'`` ->
    ``'8'``; ``'0.0'`` -> ``'0'``); other text, non-text and missing values as :func:`normalize_version` gives
    them."""
    version = normalize_version(version)
    if not isinstance(version, str) or not _DOTTED_NUMBERS.match(version):
        return version
    parts = version.split(".")
    while len(parts) > 1 and int(parts[-1]) == 0:
        parts.pop()
    return ".".join(parts)


def release_versions(features: pd.DataFrame) -> pd.Series:
    """The version key per row: ``framework_version`` as the spelling most records of its release (same
    ``framework`` and :func:`release_key`) use, ties to the longer, then the first in sort order (``8.1``,
    ``v8.1`` and ``8.1.0`` are one release, keyed ``8.1.0`` where it is the most common or as common), else
    ``round <round>`` where a ``round`` column names it, else missing."""
    versions = features["framework_version"] if "framework_version" in features.columns else \
        pd.Series(None, index=features.index, dtype=object)
    frameworks = [None if is_missing(f) else str(f) for f in features["framework"]] \
        if "framework" in features.columns else [None] * len(features)
    written = Counter((framework, version) for framework, version in zip(frameworks, versions)
                      if isinstance(version, str))
    given: Counter[tuple[str | None, str]] = Counter()
    for (framework, version), count in written.items():
        given[(framework, normalize_version(version))] += count
    spellings: dict[tuple[str | None, Any], list[str]] = {}
    for framework, version in given:
        spellings.setdefault((framework, release_key(version)), []).append(version)
    chosen = {release: min(texts, key=lambda text: (-given[(release[0], text)], -len(text), text))
              for release, texts in spellings.items()}
    keyed = {pair: chosen[(pair[0], release_key(pair[1]))] for pair in written}
    renamed = {row: keyed[(framework, version)] for row, (framework, version) in enumerate(zip(frameworks, versions))
               if isinstance(version, str) and keyed[(framework, version)] != version}
    if renamed:  # only those rows: the column keeps its dtype
        versions = versions.copy()
        versions.iloc[list(renamed)] = list(renamed.values())
    if "round" not in features.columns:
        return versions
    rounds = features["round"].map(lambda r: None if is_missing(r) else f"{ROUND_PREFIX}{r}")
    return versions.where(~versions.map(is_missing), rounds)


def version_order(text: str) -> tuple[int, ...]:
    """Sortable numbers of a version or round string (``'v1.1'`` -> (1, 1), ``'8.0.0'`` -> (8, 0, 0))."""
    return tuple(int(n) for n in re.findall(r"\d+", str(text)))


def newest_releases(features: pd.DataFrame) -> dict[str, str]:
    """``{framework: its newest calibrated version key}`` over the rows of ``features`` (recency as above)."""
    if "framework" not in features.columns:
        return {}
    versions = release_versions(features)
    newest: dict[str, tuple[tuple[int, ...], str]] = {}
    for index, framework in features["framework"].items():
        version = versions[index]
        if is_missing(framework) or is_missing(version):
            continue
        round_value = features.at[index, "round"] if "round" in features.columns else None
        recency = version_order(round_value) if not is_missing(round_value) else version_order(version)
        known = newest.get(str(framework))
        if known is None or (recency, version_order(version)) > (known[0], version_order(known[1])):
            newest[str(framework)] = (recency, str(version))
    return {framework: version for framework, (_, version) in newest.items()}


def device_stacks(features: pd.DataFrame, devices: pd.Series) -> dict[str, str]:
    """``{device: stack}`` for each device whose records all name one and the same stack (``framework``), the rows of
    ``features`` on device ``devices`` (aligned with them); a device with a record that names none, or with records
    of several stacks, is left out (:data:`STACK_RULE`)."""
    if "framework" not in features.columns:
        return {}
    stacks: dict[str, set[str]] = {}
    unnamed: set[str] = set()  # devices with a record that names no stack
    for device, framework in zip(map(str, devices.tolist()), features["framework"].tolist()):
        if is_missing(framework):
            unnamed.add(device)
        else:
            stacks.setdefault(device, set()).add(str(framework))
    return {device: min(named) for device, named in sorted(stacks.items()) if len(named) == 1 and device not in unnamed}
