"""Load and look up the bundled catalogs ``hardware_specs/`` and ``model_specs/``.

Each YAML file holds ``hardware: [...]`` or ``networks: [...]``. Name lookups ignore case, spaces and
punctuation (``TX2 - maxn`` = ``tx2-maxn``) and accept every alias a spec lists. A network query may end with a
pruning percentage (``ResNet-50 80%``, ``CNV_12.5``); without one it means the unpruned (100 %) variant.
"""

from __future__ import annotations

import difflib
import re
import typing
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from rooflinekit.descriptors import HardwareSpec, NetworkSpec
from rooflinekit.descriptors._base import spec_error, spec_message
from rooflinekit.errors import SpecError, UnknownNameError

_PACKAGE = Path(__file__).resolve().parent


def _bundled(folder: str) -> Path:
    """A bundled catalog folder: inside the installed package, or at the top of a source checkout."""
    installed = _PACKAGE / folder
    return installed if installed.is_dir() else _PACKAGE.parent / folder


HARDWARE_DIR = _bundled("hardware_specs")
MODEL_DIR = _bundled("model_specs")
_NETWORK_ADAPTER: TypeAdapter[NetworkSpec] = TypeAdapter(NetworkSpec)
# the classes of the NetworkSpec union by their 'kind' tag, to report a failed field without pydantic's tag prefix
_NETWORK_KINDS = {cls.model_fields["kind"].default: cls for cls in typing.get_args(typing.get_args(NetworkSpec)[0])
                  if isinstance(cls, type) and issubclass(cls, BaseModel) and "kind" in cls.model_fields}
_PRUNING_SUFFIX = re.compile(r"^(.*?)[\s_\-]*(\d+(?:\.\d+)?)\s*%?$")


def normalize_name(name: str) -> str:
    """Lookup key: lower case, only letters, digits and dots (``'TX2 - maxn'`` -> ``'tx2maxn'``)."""
    return re.sub(r"[^0-9a-z.]", "", name.casefold())


def _read_entries(path: Path, key: str) -> list[dict]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{path.name}: not valid YAML ({exc}); fix the file's syntax") from None
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        raise SpecError(f"{path.name}: expected a top-level '{key}:' list of specs")
    return document[key]


def _validate(path: Path, entries: list[dict], make) -> list:
    """Validate each entry with ``make``; a failure is a :class:`SpecError` headed ``file: entry name:`` with one
    line per failed field (the format of the descriptors' own errors)."""
    specs = []
    for index, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        prefix = f"{path.name}: {name if isinstance(name, str) and name else f'entry {index}'}"
        try:
            specs.append(make(entry))
        except ValidationError as exc:  # the NetworkSpec union, validated by a TypeAdapter
            raise spec_error(exc, prefix, tagged=_NETWORK_KINDS) from None
        except SpecError as exc:  # a descriptor's own validation (Frozen.model_validate)
            if not exc.errors:
                raise SpecError(f"{prefix}: {exc}", field=exc.field) from None
            raise SpecError(spec_message(prefix, exc.errors), field=exc.field, errors=exc.errors) from None
    return specs


def load_hardware_file(path: str | Path) -> list[HardwareSpec]:
    """Validate every spec of one hardware YAML file."""
    path = Path(path)
    return _validate(path, _read_entries(path, "hardware"), HardwareSpec.model_validate)


def load_network_file(path: str | Path) -> list[NetworkSpec]:
    """Validate every spec of one network YAML file."""
    path = Path(path)
    return _validate(path, _read_entries(path, "networks"), _NETWORK_ADAPTER.validate_python)


def _index(specs: Iterable, keys_of) -> dict[str, object]:
    index: dict[str, object] = {}
    for spec in specs:
        for key in keys_of(spec):
            if key in index and index[key] is not spec:
                raise SpecError(f"name {key!r} is claimed by two specs: {index[key].name!r} and {spec.name!r}")
            index[key] = spec
    return index


def _not_found(kind: str, command: str, query: str, names: list[str]) -> UnknownNameError:
    close = difflib.get_close_matches(query, names, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return UnknownNameError(f"unknown {kind} {query!r}{hint} (list them with 'rooflinekit {command} list')",
                            name=query, kind=kind, suggestions=close)


class HardwareCatalog:
    """All hardware specs of a folder, looked up by name or alias."""

    def __init__(self, specs: list[HardwareSpec]):
        self.specs = sorted(specs, key=lambda s: s.name.casefold())
        self._index = _index(self.specs, lambda s: {normalize_name(n) for n in (s.name, *s.aliases)})

    @classmethod
    def from_dir(cls, folder: str | Path = HARDWARE_DIR) -> "HardwareCatalog":
        return cls([spec for path in sorted(Path(folder).glob("*.yaml")) for spec in load_hardware_file(path)])

    def get(self, name: str) -> HardwareSpec:
        spec = self._index.get(normalize_name(name))
        if spec is None:
            raise _not_found("hardware", "hardware", name, [s.name for s in self.specs])
        return spec  # type: ignore[return-value]

    def names(self) -> list[str]:
        return [s.name for s in self.specs]


class NetworkCatalog:
    """All network specs of a folder, looked up by name or alias plus an optional pruning suffix."""

    def __init__(self, specs: list[NetworkSpec]):
        self.specs = sorted(specs, key=lambda s: (s.name.casefold(), -s.pruning_pct))
        self._families = {normalize_name(n) for s in self.specs for n in (s.name, *s.aliases)}
        self._index = _index(
            self.specs,
            lambda s: {(normalize_name(n), s.pruning_pct) for n in (s.name, *s.aliases)},
        )

    @classmethod
    def from_dir(cls, folder: str | Path = MODEL_DIR) -> "NetworkCatalog":
        return cls([spec for path in sorted(Path(folder).glob("*.yaml")) for spec in load_network_file(path)])

    def get(self, name: str, pruning_pct: float | None = None) -> NetworkSpec:
        """Look up ``name``; a trailing number is a pruning percentage unless it belongs to the name."""
        family, pct = normalize_name(name), 100.0
        if family not in self._families:
            match = _PRUNING_SUFFIX.match(name.strip())
            if match and normalize_name(match.group(1)) in self._families:
                family, pct = normalize_name(match.group(1)), float(match.group(2))
        if pruning_pct is not None:
            pct = float(pruning_pct)
        spec = self._index.get((family, pct))
        if spec is None:
            raise _not_found("model", "models", name, [self.label(s) for s in self.specs])
        return spec  # type: ignore[return-value]

    @staticmethod
    def label(spec: NetworkSpec) -> str:
        """Display name: ``ResNet-50`` or ``ResNet-50 80%``."""
        return spec.name if spec.pruning_pct == 100 else f"{spec.name} {spec.pruning_pct:g}%"

    def names(self) -> list[str]:
        return [self.label(s) for s in self.specs]


@lru_cache(maxsize=1)
def hardware_catalog() -> HardwareCatalog:
    """The bundled hardware catalog (cached)."""
    return HardwareCatalog.from_dir()


@lru_cache(maxsize=1)
def network_catalog() -> NetworkCatalog:
    """The bundled network catalog (cached)."""
    return NetworkCatalog.from_dir()


def get_hardware(name: str) -> HardwareSpec:
    """The bundled hardware spec called ``name`` (or one of its aliases)."""
    return hardware_catalog().get(name)


def get_network(name: str, pruning_pct: float | None = None) -> NetworkSpec:
    """The bundled network spec called ``name``, optionally with a pruning suffix (``ResNet-50 80%``)."""
    return network_catalog().get(name, pruning_pct)
