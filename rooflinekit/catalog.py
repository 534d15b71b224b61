"""Load and look up the bundled catalogs ``hardware_specs/`` and ``model_specs/``.

Each YAML file holds ``hardware: [...]`` or ``networks: [...]``. Name lookups ignore case, spaces and
punctuation (``TX2 - maxn`` = ``tx2-maxn``) and accept every alias a spec lists. A network query may end with a
pruning percentage (``ResNet-50 80%``, ``CNV_12.5``); without one it means the unpruned (100 %) variant. A short
name that means several devices (:data:`AMBIGUOUS_HARDWARE`: ``L4``) is refused, naming them. A multi-device
system that names its device (``interconnect.member``) is checked against that device wherever a spec is loaded
from YAML (:func:`check_member`): a system whose per-device fields differ from its member's is a
:class:`SpecError`.

**One lookup, one spec.** :func:`get_hardware` and :func:`get_network` do not load the whole catalog: a
:class:`CatalogIndex` maps every name and alias to the file (and position in it) that defines it, and only that
entry is validated. The index is read from the raw YAML (and the transformer configs' names) without validating
anything, and kept in the user's cache folder (``$XDG_CACHE_HOME/rooflinekit`` or ``~/.cache/rooflinekit``) keyed
by each file's size and modification time, so that a later process reads one JSON file instead of every spec
(the name keys, the catalog's files and the cache live in :mod:`rooflinekit.catalog_files`, which needs neither
pydantic nor YAML).
The cache also keeps each entry as the YAML file gave it (when JSON holds it exactly), so that a later lookup
validates that entry without reading YAML at all (PyYAML is imported only when a file must be read). The cache
is never required: when it cannot be read or written the index is built in memory. A name the
index does not know, or a folder it cannot index, goes to the full catalog (:func:`hardware_catalog`,
:func:`network_catalog`), which validates every file and says what is wrong or what was meant.
"""

from __future__ import annotations

import hashlib
import json
import typing
from functools import lru_cache
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from rooflinekit._limits import MAX_YAML_DEPTH, MAX_YAML_NODES, shown
from rooflinekit.catalog_files import HARDWARE_DIR as HARDWARE_DIR, MODEL_DIR as MODEL_DIR  # re-exported
from rooflinekit.catalog_files import normalize_name as normalize_name  # re-exported
from rooflinekit.catalog_files import cache_file, catalog_files, network_key, read_cache, stamp, write_cache
from rooflinekit.descriptors import HardwareSpec, NetworkSpec
from rooflinekit.descriptors.hardware import device_differences
from rooflinekit.descriptors._base import spec_error, spec_message
from rooflinekit.errors import SpecError, UnknownNameError

if TYPE_CHECKING:
    import yaml

# built on first validation (``defer_build``): a lookup served by the index cache never pays for the union's schema
_NETWORK_ADAPTER: TypeAdapter[NetworkSpec] = TypeAdapter(NetworkSpec, config=ConfigDict(defer_build=True))
# the classes of the NetworkSpec union by their 'kind' tag, to report a failed field without pydantic's tag prefix
_NETWORK_KINDS = {cls.model_fields["kind"].default: cls for cls in typing.get_args(typing.get_args(NetworkSpec)[0])
                  if isinstance(cls, type) and issubclass(cls, BaseModel) and "kind" in cls.model_fields}


def _bounded_nodes(node: yaml.Node, path: Path) -> None:
    """Refuse a YAML node graph deeper than :data:`MAX_YAML_DEPTH` or larger than :data:`MAX_YAML_NODES` once
    aliases are expanded (a "billion laughs" file), before the loader builds a single Python object.

    Aliases point at nodes already seen, so the expanded size is counted with one memoized pass over the graph:
    linear in the file, whatever it would expand to.
    """
    import yaml

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


def _unique_keys(node: yaml.Node, path: Path) -> None:
    """Refuse a mapping that gives one key twice (PyYAML keeps the last value without a word, so a pasted
    ``bandwidth_bytes_per_s:`` would silently replace the first). Each node is visited once (aliases included)."""
    import yaml

    seen: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            lines: dict[tuple[str, str], int] = {}
            for key, _ in current.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                line = key.start_mark.line + 1
                first = lines.setdefault((key.tag, key.value), line)
                if first != line:
                    raise SpecError(f"{path.name}: key {key.value!r} is given twice in one mapping (lines {first} and "
                                    f"{line}); YAML would keep only the last, so remove or rename one")
            stack.extend(item for pair in current.value for item in pair)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def _tab_indented(text: str, exc: Exception) -> int | None:
    """The 1-based line of ``text`` where PyYAML's error ``exc`` points, when that line is indented with a tab."""
    mark = getattr(exc, "problem_mark", None)
    lines = text.splitlines()
    if mark is None or not 0 <= mark.line < len(lines):
        return None
    line = lines[mark.line]
    return mark.line + 1 if "\t" in line[:len(line) - len(line.lstrip())] else None


def _read_entries(path: Path, key: str) -> list[dict]:
    """The ``key:`` list of a catalog YAML file, loaded safely (no Python tags, depth and alias expansion
    bounded, invalid UTF-8 refused; PyYAML's C loader when it was built with one), as a :class:`SpecError`
    naming the file on any failure."""
    import yaml

    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file; give the path of a YAML file with a top-level '{key}:' list") \
            from None
    except OSError as exc:  # a folder, no permission, ...
        raise SpecError(f"{path}: cannot read the file ({exc.strerror or exc}); give the path of a readable YAML "
                        f"file with a top-level '{key}:' list") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path.name}: not UTF-8 text (byte {exc.start}: {shown(exc.object[exc.start:exc.start + 8])})"
                        "; save the spec file as UTF-8") from None
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
        try:
            root = loader.get_single_node()
            if root is None:
                document = None
            else:
                _bounded_nodes(root, path)
                _unique_keys(root, path)
                document = loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        if "nesting depth" in str(exc):  # PyYAML 6.0.4 and later bound the nesting themselves
            raise SpecError(f"{path.name}: YAML nested too deeply to read; fix the file") from None
        tab_line = _tab_indented(text, exc)
        if tab_line is not None:
            raise SpecError(f"{path.name}: line {tab_line} is indented with a tab; YAML indents with spaces only, "
                            "replace the tab with spaces") from None
        message = " ".join(str(exc).split())  # PyYAML's message spans lines; the error is one line
        message = message if len(message) <= 300 else message[:297] + "..."
        raise SpecError(f"{path.name}: not valid YAML ({message}); fix the file's syntax") from None
    except RecursionError:
        raise SpecError(f"{path.name}: YAML nested too deeply to read; fix the file") from None
    if isinstance(document, dict) and isinstance(document.get(key), dict):
        raise SpecError(f"{path.name}: '{key}:' holds one mapping, not a list of specs; start each spec with '- ' "
                        f"('  - name: ...' on the line after '{key}:')")
    if isinstance(document, dict) and key not in document and "name" in document:
        raise SpecError(f"{path.name}: the file is one spec without the top-level '{key}:' list; put '{key}:' on "
                        "the first line and indent the spec under it as a list item ('  - name: ...')")
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        raise SpecError(f"{path.name}: expected a top-level '{key}:' list of specs")
    return document[key]


def _validate(path: Path, entries: list[dict], make, first: int = 0) -> list:
    """Validate each entry with ``make``; a failure is a :class:`SpecError` headed ``file: entry name:`` with one
    line per failed field (the format of the descriptors' own errors). ``first`` is the position of
    ``entries[0]`` in its file."""
    specs = []
    for index, entry in enumerate(entries, start=first):
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
    """Validate every spec of one hardware YAML file; a system naming its member device checks it against the
    bundled catalog's device (:func:`check_member`)."""
    path = Path(path)
    specs: list[HardwareSpec] = _validate(path, _read_entries(path, "hardware"), HardwareSpec.model_validate)
    _check_members(path.name, specs, _bundled_device)
    return specs


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
    import difflib

    key = normalize_name(query)
    # names that start with or contain the query ('A100' -> A100-SXM4-40GB, A100-SXM4-80GB), then spelling neighbours
    # compared as lookup keys, as a name is looked up ('zcu1044' is near 'ZCU104-DPU' whatever the case), at a
    # similarity of at least 0.6: unrelated keys can share half their letters ('NoSuchBoard' and 'Coral Dev Board':
    # 0.5), a typo shares far more ('jetsn nano' and 'Jetson Nano': 0.95)
    containing = sorted((n for n in names if key and key in normalize_name(n)),
                        key=lambda n: (not normalize_name(n).startswith(key), len(n)))
    by_key: dict[str, str] = {}
    for name in names:
        by_key.setdefault(normalize_name(name), name)
    near = [by_key[k] for k in difflib.get_close_matches(key, list(by_key), n=3, cutoff=0.6)]
    close = list(dict.fromkeys([*containing[:5], *near]))[:5]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return UnknownNameError(f"unknown {kind} {shown(query)}{hint} (list them with 'rooflinekit {command} list')",
                            name=query, kind=kind, suggestions=close)


AMBIGUOUS_HARDWARE: dict[str, dict[str, str]] = {
    "l4": {"NVIDIA L4": "the NVIDIA data-center GPU",
           "NUCLEO-L496ZG": "the STM32L4 MCU board, which the TinyML study calls 'L4'"},
}
"""Short names that mean several catalog devices: lookup key (:func:`normalize_name`) -> {catalog name: what it
is}. None of them is an alias: a lookup is refused, naming every meaning, rather than picking one (a user of the
LLM and GPU features means the GPU by 'L4', the TinyML study's tables the board)."""


def _ambiguous(query: str) -> UnknownNameError:
    """The error of a lookup of a short name of :data:`AMBIGUOUS_HARDWARE`."""
    meanings = AMBIGUOUS_HARDWARE[normalize_name(query)]
    listed = " or ".join(f"{name} ({what})" for name, what in meanings.items())
    return UnknownNameError(f"hardware {shown(query)} is ambiguous: it may mean {listed}; give the full name",
                            name=query, kind="hardware", suggestions=list(meanings))


def check_member(system: HardwareSpec, find: Callable[[str], HardwareSpec | None] | None = None) -> HardwareSpec:
    """The device a multi-device ``system`` names as its ``interconnect.member``, checked to be what the system
    says of one device.

    Parameters
    ----------
    system : HardwareSpec
        A spec with an ``interconnect`` whose ``member`` is given.
    find : callable, optional
        Lookup key (:func:`normalize_name`) -> spec or None, where the member is looked up; None: the bundled
        catalog.

    Returns
    -------
    HardwareSpec
        The member device, a spec without an ``interconnect`` whose per-device fields (every field but
        :data:`~rooflinekit.descriptors.hardware.SYSTEM_FIELDS`: peaks per data type, memories, clock, TDP, kind,
        family, ...) equal the system's (:func:`~rooflinekit.descriptors.hardware.device_differences`).

    Raises
    ------
    SpecError
        When no member is named, the member is not in the catalog or is itself a system, or a field differs:
        the message names the field, both values and what to do; ``field`` is the dotted field
        (``peak_ops_per_s.int4``).
    """
    member = resolve_member(system, find)
    differences = device_differences(system, member)
    if differences:
        field, mine, theirs = differences[0]
        others = [f for f, _, _ in differences[1:]]
        also = f" (also differ: {', '.join(others)})" if others else ""
        raise SpecError(f"{system.name}: {field} is {_value(mine)} but its member {member.name}'s is "
                        f"{_value(theirs)}{also}; a system's per-device fields are its member's: copy {member.name}'s "
                        "value, name the device the system is made of in interconnect.member, or leave member out "
                        "for a device the catalog does not hold",
                        field=field)
    return member


def resolve_member(system: HardwareSpec, find: Callable[[str], HardwareSpec | None] | None = None) -> HardwareSpec:
    """The device a multi-device ``system`` names as its ``interconnect.member`` (not checked against the system's
    fields: :func:`check_member` does that), looked up with ``find`` (key -> spec or None; None: the bundled
    catalog).

    Raises
    ------
    SpecError
        When ``system`` names no member, or the member is not in the catalog or is itself a system.
    """
    link = system.interconnect
    if link is None or link.member is None:
        raise SpecError(f"{system.name}: names no member device; give interconnect.member, the catalog name of the "
                        "device the system is made of", field="interconnect.member")
    member = (find or _bundled_device)(normalize_name(link.member))
    if member is None:
        raise SpecError(f"{system.name}: interconnect.member {shown(link.member)} is not a catalog device; give the "
                        "catalog name of the device the system is made of (list them with 'rooflinekit hardware "
                        "list'), or leave member out", field="interconnect.member")
    if member.interconnect is not None:
        raise SpecError(f"{system.name}: interconnect.member {shown(link.member)} is itself a system of "
                        f"{member.interconnect.devices} devices; name a single device", field="interconnect.member")
    return member


def _value(value: object) -> str:
    """A compared field value as a message shows it: 'not given' for None, numbers with :g."""
    if value is None:
        return "not given"
    if isinstance(value, float):
        return f"{value:g}"
    return shown(value)


def _check_members(file_name: str, specs: Iterable[HardwareSpec],
                   find: Callable[[str], HardwareSpec | None]) -> None:
    """:func:`check_member` on every spec of one file that names a member; its error headed with the file."""
    for spec in specs:
        if spec.interconnect is not None and spec.interconnect.member is not None:
            try:
                check_member(spec, find)
            except SpecError as exc:
                raise SpecError(f"{file_name}: {exc}", field=exc.field) from None


def _bundled_device(key: str) -> HardwareSpec | None:
    """The bundled catalog's spec whose name or alias has lookup ``key``, or None."""
    if hardware_catalog.cache_info().currsize == 0:
        spec = _HARDWARE_INDEX.find(key)
        if spec is not None:
            return spec  # type: ignore[return-value]
    return hardware_catalog()._index.get(key)  # type: ignore[return-value]


class HardwareCatalog:
    """All hardware specs of a folder, looked up by name or alias; ``specs`` is a tuple sorted by name."""

    def __init__(self, specs: Iterable[HardwareSpec]):
        self.specs: tuple[HardwareSpec, ...] = tuple(sorted(specs, key=lambda s: s.name.casefold()))
        self._index = _index(self.specs, lambda s: {normalize_name(n) for n in (s.name, *s.aliases)})

    @classmethod
    def from_dir(cls, folder: str | Path = HARDWARE_DIR) -> "HardwareCatalog":
        """Every spec of the ``*.yaml`` files of ``folder`` (the same objects :func:`get_hardware` returned).

        A system naming its member device (``interconnect.member``) is checked against it (:func:`check_member`),
        the member looked up in ``folder`` first, then (for another folder than the bundled one) in the bundled
        catalog: a :class:`SpecError` naming the file, the system and the field that differs."""
        bundled = Path(folder) == HARDWARE_DIR
        memo = _HARDWARE_INDEX.validated if bundled else {}
        files = {path.name: _load_file(path, "hardware", HardwareSpec.model_validate, memo)
                 for path in sorted(Path(folder).glob("*.yaml"))}
        catalog = cls([spec for specs in files.values() for spec in specs])

        def find(key: str) -> HardwareSpec | None:
            own = catalog._index.get(key)
            return own if own is not None or bundled else _bundled_device(key)  # type: ignore[return-value]

        for file_name, specs in files.items():
            _check_members(file_name, specs, find)
        return catalog

    def get(self, name: str) -> HardwareSpec:
        """The spec called ``name`` or one of its aliases; :class:`UnknownNameError` naming the close names, or the
        devices a short name of :data:`AMBIGUOUS_HARDWARE` may mean."""
        key = normalize_name(name)
        spec = self._index.get(key)
        if spec is None and key in AMBIGUOUS_HARDWARE:
            raise _ambiguous(name)
        if spec is None:
            raise _not_found("hardware", "hardware", name, [s.name for s in self.specs])
        return spec  # type: ignore[return-value]

    def names(self) -> list[str]:
        return [s.name for s in self.specs]


class NetworkCatalog:
    """All network specs of a folder, looked up by name or alias plus an optional pruning suffix; ``specs`` is a
    tuple sorted by name, then by pruning percentage from 100 down."""

    def __init__(self, specs: Iterable[NetworkSpec]):
        self.specs: tuple[NetworkSpec, ...] = tuple(sorted(specs, key=lambda s: (s.name.casefold(), -s.pruning_pct)))
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

        memo = _NETWORK_INDEX.validated if Path(folder) == MODEL_DIR else {}
        specs = [spec for path in sorted(Path(folder).glob("*.yaml"))
                 for spec in _load_file(path, "networks", _NETWORK_ADAPTER.validate_python, memo)]
        transformers = Path(folder) / "transformers"
        if not memo:
            return cls(specs + catalog_networks(transformers))
        for path in sorted(transformers.glob("*.json")):
            spec = memo.get((str(path), -1))
            if spec is None:
                spec = memo[(str(path), -1)] = _transformer_entry(path)
            specs.append(spec)
        return cls(specs)

    def get(self, name: str, pruning_pct: float | None = None) -> NetworkSpec:
        """Look up ``name``; a trailing number is a pruning percentage unless it belongs to the name."""
        family, pct = network_key(name, self._families, pruning_pct)
        spec = self._index.get((family, pct))
        if spec is None and family in self._families:  # a known model without that pruning
            variants = [self.label(s) for s in self.specs if normalize_name(s.name) == family
                        or family in {normalize_name(a) for a in s.aliases}]
            raise UnknownNameError(f"model {shown(name)} has no {pct:g}% pruned variant (pruning is the share of "
                                   f"channels kept in percent, 100 = unpruned); its variants: {', '.join(variants)}",
                                   name=name, kind="model", suggestions=variants)
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


def _check_name(name: object, kind: str, listing: str) -> None:
    """Refuse a catalog ``name`` that is not a string (it would fail inside the name normalization)."""
    if not isinstance(name, str):
        raise SpecError(f"a {kind} name must be a string, got {type(name).__name__} {shown(name)}; list the names "
                        f"with '{listing}'")


_MEMBERS_CHECKED: set[str] = set()
"""Names of the bundled systems whose member :func:`get_hardware` checked (the full catalog checks all of them)."""


def get_hardware(name: str) -> HardwareSpec:
    """The bundled hardware spec called ``name`` (or one of its aliases); validates only that spec's entry (and a
    system's member device, :func:`check_member`) until the whole catalog is loaded (see the module docstring). A
    ``name`` that is not a string is a :class:`SpecError`; a short name that means several devices
    (:data:`AMBIGUOUS_HARDWARE`) an :class:`UnknownNameError` naming them."""
    _check_name(name, "hardware", "rooflinekit hardware list")
    if hardware_catalog.cache_info().currsize == 0:
        spec = _HARDWARE_INDEX.find(normalize_name(name))
        if isinstance(spec, HardwareSpec):
            if spec.interconnect is not None and spec.interconnect.member is not None \
                    and spec.name not in _MEMBERS_CHECKED:
                check_member(spec)
                _MEMBERS_CHECKED.add(spec.name)
            return spec
    return hardware_catalog().get(name)


def get_network(name: str, pruning_pct: float | None = None) -> NetworkSpec:
    """The bundled network spec called ``name``, optionally with a pruning suffix (``ResNet-50 80%``); validates
    only that spec's entry until the whole catalog is loaded (see the module docstring). A ``name`` that is not a
    string, or a ``pruning_pct`` that is not a number in (0, 100], is a :class:`SpecError`."""
    _check_name(name, "network", "rooflinekit models list")
    if pruning_pct is not None and (isinstance(pruning_pct, bool) or not isinstance(pruning_pct, Real)
                                    or not 0 < pruning_pct <= 100):
        raise SpecError(f"pruning_pct must be the percentage of channels kept, a number in (0, 100], got "
                        f"{shown(pruning_pct)}; leave it None for the unpruned network")
    if network_catalog.cache_info().currsize == 0:
        spec = _NETWORK_INDEX.find_network(name, pruning_pct)
        if spec is not None:
            return spec  # type: ignore[return-value]
    return network_catalog().get(name, pruning_pct)


def _load_file(path: Path, key: str, make: Callable[[dict], object], memo: dict[tuple[str, int], object]) -> list:
    """The specs of one catalog file, validated (each entry once: ``memo`` keeps them by (file, position))."""
    entries = _read_entries(path, key)
    specs = []
    for position, entry in enumerate(entries):
        spec = memo.get((str(path), position))
        if spec is None:
            spec = memo[(str(path), position)] = _validate(path, [entry], make, position)[0]
        specs.append(spec)
    return specs


Location = tuple[str, int]
"""Where a spec is defined: a file's path and the entry's position in its list (-1: the file is the spec)."""


class CatalogIndex:
    """Where each name and alias of a catalog folder is defined, read without validating anything.

    ``keys`` maps ``(normalized name or alias, pruning_pct)`` to the spec's :data:`Location`; ``families`` holds
    the normalized names (for the pruning suffix of :meth:`NetworkCatalog.get`). Built from the raw YAML entries
    (``name``, ``aliases``, ``pruning_pct``) and the transformer configs' names, or read from the user cache (see
    the module docstring). ``validated`` keeps the specs validated so far by location; ``entries`` the raw entries
    the cache holds, by location (an entry JSON cannot hold exactly, such as a YAML date, is read from its file).
    """

    VERSION = 2

    def __init__(self, folder: Path, key: str, make: Callable[[dict], object]) -> None:
        self.folder, self.key, self.make = folder, key, make
        self.validated: dict[Location, object] = {}
        self.entries: dict[Location, Any] = {}
        self._keys: dict[tuple[str, float], Location] | None = None
        self._families: set[str] = set()
        self._usable = True

    def _load(self) -> dict[tuple[str, float], Location] | None:
        """The index (built, or read from the cache when every file is unchanged); None when unusable."""
        if self._keys is not None or not self._usable:
            return self._keys
        try:
            files = stamp(catalog_files(self.folder, self.key))
        except OSError:
            self._usable = False
            return None
        folder_id = hashlib.sha1(str(self.folder.resolve()).encode()).hexdigest()[:12]
        cache = cache_file(f"{self.key}-index-{folder_id}.json")
        cached = read_cache(cache, files, self.VERSION)
        records = cached.get("records") if cached is not None else None
        if not isinstance(records, list):
            records = self._scan([Path(p) for p in files])
            if records is None:
                self._usable = False
                return None
            write_cache(cache, {"version": self.VERSION, "files": files, "records": records})
        keys: dict[tuple[str, float], Location] = {}
        for path, position, names, pct, entry in records:
            where = (str(path), int(position))
            if entry is not None:
                self.entries[where] = entry
            for name in names:
                family = normalize_name(name)
                self._families.add(family)
                if keys.setdefault((family, float(pct)), where) != where:
                    self._usable = False  # claimed twice: the full catalog says so
                    return None
        self._keys = keys
        return keys

    def _scan(self, files: list[Path]) -> list[list] | None:
        """``[path, position, names, pruning_pct, entry]`` per spec (``entry``: the raw YAML entry when JSON holds
        it exactly, else None); None when an entry is not plain enough to index (the full catalog then reports
        it)."""
        records: list[list] = []
        for path in files:
            try:
                if path.suffix == ".json":
                    from rooflinekit.networks.transformer import load_transformer_config

                    config = load_transformer_config(path)
                    records.append([str(path), -1, [config.name, *config.aliases], 100.0, None])
                    continue
                entries = _read_entries(path, self.key)
            except (SpecError, OSError):
                return None
            for position, entry in enumerate(entries):
                name = entry.get("name") if isinstance(entry, dict) else None
                aliases = entry.get("aliases", []) if isinstance(entry, dict) else None
                pct = entry.get("pruning_pct", 100.0) if isinstance(entry, dict) else None
                if (not isinstance(name, str) or not isinstance(aliases, list)
                        or not all(isinstance(a, str) for a in aliases)
                        or isinstance(pct, bool) or not isinstance(pct, (int, float))):
                    return None
                records.append([str(path), position, [name, *aliases], float(pct), _json_exact(entry)])
        return records

    def _spec(self, where: Location) -> object:
        """The validated spec at ``where`` (validated once)."""
        spec = self.validated.get(where)
        if spec is None:
            path, position = Path(where[0]), where[1]
            if position < 0:
                spec = _transformer_entry(path)
            else:
                entry = self.entries[where] if where in self.entries else _read_entries(path, self.key)[position]
                spec = _validate(path, [entry], self.make, position)[0]
            self.validated[where] = spec
        return spec

    def find(self, key: str, pruning_pct: float = 100.0) -> object | None:
        """The spec named ``key`` (normalized) at ``pruning_pct``; None when the index does not know it."""
        keys = self._load()
        where = None if keys is None else keys.get((key, float(pruning_pct)))
        return None if where is None else self._spec(where)

    def find_network(self, name: str, pruning_pct: float | None) -> object | None:
        """:meth:`NetworkCatalog.get`'s lookup (name, optional pruning suffix) through the index."""
        if self._load() is None:
            return None
        return self.find(*network_key(name, self._families, pruning_pct))


def _json_exact(entry: Any) -> Any:
    """``entry`` when JSON text gives it back equal (plain mappings, lists, text, numbers, booleans), else None
    (a YAML date or binary value, a non-text key, a NaN)."""
    try:
        return entry if json.loads(json.dumps(entry)) == entry else None
    except (TypeError, ValueError):
        return None


def _transformer_entry(path: Path) -> NetworkSpec:
    """The catalog network of one transformer config file, as
    :func:`~rooflinekit.networks.transformer.catalog_networks` builds it."""
    from rooflinekit.networks.transformer import load_transformer_config, transformer_network

    config = load_transformer_config(path)
    network: NetworkSpec = transformer_network(config, name=config.name).model_copy(
        update={"aliases": config.aliases})
    return network


_HARDWARE_INDEX = CatalogIndex(HARDWARE_DIR, "hardware", HardwareSpec.model_validate)
_NETWORK_INDEX = CatalogIndex(MODEL_DIR, "networks", _NETWORK_ADAPTER.validate_python)
