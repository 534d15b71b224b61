"""Software releases: each record's release key, and the fallback for a release never calibrated.

A record runs one **release** of a software stack: ``(framework, framework_version)``. A record that names no
version is keyed by the benchmark round it was submitted in (``round v1.0``): a stack submitted in another round
is another build. The **recency** of a release is the newest round among its records (``v1.1`` > ``v1.0``), else
its version number (``8.1.0`` > ``7.3.0``).

Fallback rule (:data:`FALLBACK_RULE`): a release never calibrated takes the factors of the **newest calibrated
release of the same stack** (stacks get faster from release to release: falling back to the mean over all of a
stack's releases, old and slow ones included, was about 1.3-1.9x pessimistic on the next MLPerf Tiny round). A
stack never calibrated rests on the coarser levels (core family, global). Every fallback is reported.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from rooflinekit.compare.records import is_missing

FALLBACK_RULE = "an unseen release falls back to the newest calibrated release of the same stack"
ROUND_PREFIX = "round "


_V_PREFIX = re.compile(r"^v(?=\d)", re.I)


def normalize_version(version: Any) -> Any:
    """A stack version as its number: surrounding spaces and a ``v`` before the first digit dropped (``' v8.1'``
    -> ``'8.1'``), as :func:`~rooflinekit.compare.records.normalize_framework` reads the version in a stack's name
    (``X-CUBE-AI v8.1`` -> ``8.1``); other text (``commit a30942eb``), non-text and missing values unchanged."""
    return _V_PREFIX.sub("", version.strip()) if isinstance(version, str) else version


def release_versions(features: pd.DataFrame) -> pd.Series:
    """The version key per row: ``framework_version`` (:func:`normalize_version`: ``v8.1`` and ``8.1`` are one
    release), else ``round <round>`` where a ``round`` column names it, else missing."""
    versions = features["framework_version"] if "framework_version" in features.columns else \
        pd.Series(None, index=features.index, dtype=object)
    renamed = {row: normalize_version(v) for row, v in enumerate(versions)
               if isinstance(v, str) and normalize_version(v) != v}
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
