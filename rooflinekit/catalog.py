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

from rooflinekit._limits import MAX_YAML_DEPTH, MAX_YAML_NODES, shown
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


_YAML_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _bounded_nodes(node: yaml.Node, path: Path) -> None:
    """Refuse a YAML node graph deeper than :data:`MAX_YAML_DEPTH` or larger than :data:`MAX_YAML_NODES` once
    aliases are expanded (a "billion laughs" file), before the loader builds a single Python object.

    Aliases point at nodes already seen, so the expanded size is counted with one memoized pass over the graph:
    linear in the file, whatever it would expand to.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(node, 1, False)]
    while stack:
        current, depth, done = stack.pop()
        if id(current) in sizes:
            continue
        if depth > MAX_YAML_DEPTH:
            raise SpecError(f"{path.name}: YAML nested deeper than {MAX_YAML_DEPTH} levels (line "
                            f"{current.start_mark.line + 1}); a spec file is a few levels deep, fix the file")
        children: list[yaml.Node] = []
        if isinstance(current, yaml.SequenceNode):
            children = list(current.value)
        elif isinstance(current, yaml.MappingNode):
            children = [item for pair in current.value for item in pair]
        if done:
            sizes[id(current)] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[id(current)] > MAX_YAML_NODES:
                raise SpecError(f"{path.name}: YAML expands to more than {MAX_YAML_NODES:,} values through its "
                                f"aliases (&anchor / *alias, line {current.start_mark.line + 1}); write the specs "
                                "out or use fewer aliases")
            continue
        stack.append((current, depth, True))
        stack.extend((child, depth + 1, False) for child in children if id(child) not in sizes)


def _read_entries(path: Path, key: str) -> list[dict]:
    """The ``key:`` list of a catalog YAML file, loaded safely (no Python tags, depth and alias expansion
    bounded, invalid UTF-8 refused), as a :class:`SpecError` naming the file on any failure."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path.name}: not UTF-8 text (byte {exc.start}: {shown(exc.object[exc.start:exc.start + 8])})"
                        "; save the spec file as UTF-8") from None
    try:
        loader = _YAML_LOADER(text)
        try:
            root = loader.get_single_node()
            if root is None:
                document = None
            else:
                _bounded_nodes(root, path)
                document = loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        if "nesting depth" in str(exc):  # PyYAML 6.0.4 and later bound the nesting themselves
            raise SpecError(f"{path.name}: YAML nested too deeply to read; fix the file") from None
        message = str(exc) if len(str(exc)) <= 300 else str(exc)[:297] + "..."
        raise SpecError(f"{path.name}: not valid YAML ({message}); fix the file's syntax") from None
    except RecursionError:
        raise SpecError(f"{path.name}: YAML nested too deeply to read; fix the file") from None
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
    key = normalize_name(query)
    # names that start with or contain the query ('A100' -> A100-SXM4-40GB, A100-SXM4-80GB), then spelling neighbours
    containing = sorted((n for n in names if key and key in normalize_name(n)),
                        key=lambda n: (not normalize_name(n).startswith(key), len(n)))
    close = list(dict.fromkeys([*containing[:5], *difflib.get_close_matches(query, names, n=3, cutoff=0.5)]))[:5]
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
        """The YAML specs of ``folder`` and the transformer configs of its ``transformers/`` subfolder (each a
        prefill network at its file's ``seq_len``, see :func:`rooflinekit.networks.transformer.catalog_networks`)."""
        from rooflinekit.networks.transformer import catalog_networks  # networks import the catalog's helpers

        specs = [spec for path in sorted(Path(folder).glob("*.yaml")) for spec in load_network_file(path)]
        return cls(specs + catalog_networks(Path(folder) / "transformers"))

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
