"""Reading the model file: the protobuf, external-data checks, node order, graph inputs and attributes.

``onnx.load(path, load_external_data=False)``, or for a large file its bytes without those of its large weights
(:mod:`._lean`): external-data files must exist and be long enough; only the bytes of small tensors are read from
them (their values may be shapes, axes, pads), never those of weights (only their shapes matter). Every node input
must be a graph input, an initializer or a node output;
nodes are put in topological order. Every failure is a :class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from pathlib import Path, PureWindowsPath
from typing import AbstractSet, Any, Container, Mapping, Sequence

import onnx
from google.protobuf.message import DecodeError
from onnx import AttributeProto, NodeProto, TensorProto

from rooflinekit._limits import shown
from rooflinekit.display import absent
from rooflinekit.errors import ModelFileError
from rooflinekit.importers.onnx._dtypes import FLOATS
from rooflinekit.importers.onnx._lean import SMALL_VALUE, lean_model_bytes

MALFORMED = (ValueError, TypeError, IndexError, KeyError, ArithmeticError)
"""What malformed protobuf data can make onnx, numpy or Python raise where the importer reads it; translated into
:class:`ModelFileError` at those places only (:func:`malformed_model`, :func:`malformed_node`)."""


def malformed_model(path: Path, exc: BaseException) -> ModelFileError:
    """The error reporting ``exc``, raised while reading malformed data of the model at ``path``."""
    return ModelFileError(f"{path}: malformed ONNX model ({type(exc).__name__}: {exc}); re-export it or check it "
                          "with onnx.checker.check_model", path=path)


def malformed_node(path: Path, node: NodeProto | OnnxNode, exc: BaseException | str) -> ModelFileError:
    """The error reporting malformed data of ``node``: ``exc`` is what reading it raised, or a description."""
    what = f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else exc
    return ModelFileError(f"{path}: node {node.name!r} ({node.op_type}) is malformed: {what}", path=path)


class OnnxNode:
    """A node's fields, read once from its protobuf: each read of a protobuf field builds a new Python object
    (about a microsecond), and the importer reads every node's names many times. Duck-typed to ``NodeProto`` for
    reading (``name``, ``op_type``, ``domain``, ``input``, ``output``, ``attribute``). (Repeated fields are read
    as slices, ``proto.input[:]``: one call copies them into a list, twice as fast as iterating the container; the
    lists are kept as they are, never changed: a tuple of each was 5 us more of the 38-node ZFNet's 1.6 ms.)
    """

    __slots__ = ("name", "op_type", "domain", "input", "output", "attribute")

    def __init__(self, proto: NodeProto) -> None:
        self.name: str = proto.name
        self.op_type: str = proto.op_type
        self.domain: str = proto.domain
        self.input: list[str] = proto.input[:]
        self.output: list[str] = proto.output[:]
        self.attribute: list[AttributeProto] = proto.attribute[:]


def node_records(graph: onnx.GraphProto) -> list[OnnxNode]:
    """The nodes of ``graph`` as :class:`OnnxNode` records, in file order."""
    return [OnnxNode(node) for node in graph.node[:]]


def read_model(path: Path) -> tuple[onnx.ModelProto, list[OnnxNode]]:
    """Parse the protobuf without external data; every failure names the file. Returns the model and its main
    graph's nodes as records."""
    if not path.is_file():
        raise ModelFileError(f"{path}: {absent(path, 'model file')}", path=path)
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(f"{path}: the file is empty; export the model again", path=path)
    try:
        lean = lean_model_bytes(path, size)
        # a small file whole, in the format onnx.load would read it in (by its suffix; protobuf by default)
        model = onnx.ModelProto.FromString(lean) if lean is not None else onnx.load_model_from_string(
            path.read_bytes(),
            format=onnx.serialization.registry.get_format_from_file_extension(path.suffix) or "protobuf")
    except (DecodeError, *MALFORMED, OSError) as exc:
        raise ModelFileError(f"{path}: not a readable ONNX protobuf (truncated or corrupt?): {exc}", path=path) from exc
    nodes = node_records(model.graph)
    if not nodes:
        raise ModelFileError(f"{path}: the ONNX graph has no nodes (truncated or not an ONNX model?)", path=path)
    _check_text(model.graph, nodes, path)
    return model, nodes


def _check_text(graph: onnx.GraphProto, nodes: list[OnnxNode], path: Path) -> None:
    """Names that become layer names, kinds and attribute keys must be text: protobuf hands over a string field
    holding invalid UTF-8 as bytes."""
    texts = [graph.name, *[value.name for value in graph.input]]
    for node in nodes:  # one list extended in place: twice as fast as a generator of the same texts
        texts += (node.name, node.op_type, node.domain)
        texts += node.input
        texts += node.output
        for attribute in node.attribute:
            texts.append(attribute.name)
    try:  # fast path: joining fails on the first bytes value
        "".join(texts)
        return
    except TypeError:
        pass
    fields: list[tuple[str, Any]] = [("graph name", graph.name)]
    fields += [(f"name of graph input {index}", value.name) for index, value in enumerate(graph.input)]
    for index, node in enumerate(nodes):
        fields += [(f"{what} of node {index}", value) for what, value in (
            ("name", node.name), ("op_type", node.op_type), ("domain", node.domain),
            *(("input name", name) for name in node.input), *(("output name", name) for name in node.output),
            *(("attribute name", attribute.name) for attribute in node.attribute))]
    for what, value in fields:
        if not isinstance(value, str):
            raise ModelFileError(f"{path}: the {what} is not valid UTF-8 ({value!r}); the file is corrupt, "
                                 "export it again", path=path)


def resolve_external_data(model: onnx.ModelProto, nodes: list[OnnxNode], path: Path) -> None:
    """Check every tensor stored outside the model file (an initializer, or a tensor attribute of one of the main
    graph's ``nodes``): its file must exist, long enough for offset + length. A small one (at most
    :data:`~._lean.SMALL_VALUE` elements of a type of whole bytes) is read into the model, as an inline tensor of
    that size is kept (:func:`_read_small`): exporters that store every initializer outside (``size_threshold=0``,
    large PyTorch exports) store Reshape targets and Slice bounds there too."""
    for tensor in _all_tensors(model.graph, nodes):
        if tensor.data_location != TensorProto.EXTERNAL:
            continue
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        if not isinstance(location, str):  # protobuf hands over invalid UTF-8 as bytes
            raise ModelFileError(f"{path}: the external data location of tensor {tensor.name!r} is not valid UTF-8 "
                                 f"({shown(location)}); the file is corrupt, export it again", path=path)
        file = confined_location(path, location, tensor.name)
        try:
            found = file.is_file()
            size = file.stat().st_size if found else 0
        except OSError:
            found = False
        if not found:
            raise ModelFileError(
                f"{path}: external data file {shown(location)} of tensor {shown(tensor.name)} not found in "
                f"{path.parent}; keep the data file next to the model", path=path)
        try:
            offset, length = int(info.get("offset", 0) or 0), int(info.get("length", 0) or 0)
        except ValueError as exc:
            raise malformed_model(path, exc) from exc
        if offset + length > size:
            raise ModelFileError(f"{path}: external data file {shown(location)} is truncated: tensor "
                                 f"{shown(tensor.name)} ends at byte {offset + length}, the file has {size}",
                                 path=path)
        width = _BYTE_WIDTHS.get(tensor.data_type)
        if width is not None and _count(tensor.dims) <= SMALL_VALUE:
            _read_small(tensor, file, offset, length if "length" in info else None, width, size, path)


_BYTE_WIDTHS: dict[int, int] = {
    getattr(TensorProto, name): width for name, width in (
        ("FLOAT", 4), ("UINT8", 1), ("INT8", 1), ("UINT16", 2), ("INT16", 2), ("INT32", 4), ("INT64", 8),
        ("BOOL", 1), ("FLOAT16", 2), ("DOUBLE", 8), ("UINT32", 4), ("UINT64", 8), ("BFLOAT16", 2))}
"""Bytes per element of the types whose external tensors are read when small (packed sub-byte, 8-bit float and
string tensors never hold shapes, axes or pads)."""


def _count(dims: Sequence[int]) -> int:
    """Elements of a tensor of ``dims`` (a negative dim, which a malformed file may hold, counts as 0)."""
    total = 1
    for dim in dims:
        total *= max(int(dim), 0)
    return total


def _read_small(tensor: TensorProto, file: Path, offset: int, length: int | None, width: int, size: int,
                path: Path) -> None:
    """Read the ``width``-byte elements of the small external ``tensor`` from ``file`` (``size`` bytes) at
    ``offset`` into its ``raw_data``, as ``onnx.load`` would; a declared ``length`` must hold them."""
    need = _count(tensor.dims) * width
    if length is not None and length < need:
        raise ModelFileError(f"{path}: external data of tensor {shown(tensor.name)} holds {length} bytes, but its type "
                             f"and dims {list(tensor.dims)} need {need}; the file is corrupt, export it again",
                             path=path)
    if offset + need > size:
        raise ModelFileError(f"{path}: external data file {shown(file.name)} is truncated: tensor "
                             f"{shown(tensor.name)} ends at byte {offset + need}, the file has {size}", path=path)
    try:
        with file.open("rb") as stream:
            stream.seek(offset)
            data = stream.read(need)
    except OSError as exc:
        raise ModelFileError(f"{path}: external data file {shown(file.name)} cannot be read: {exc}",
                             path=path) from exc
    tensor.raw_data = data
    tensor.data_location = TensorProto.DEFAULT
    del tensor.external_data[:]


_NAME_MAX = 255
_PATH_MAX = 4096


def confined_location(path: Path, location: str, tensor: str) -> Path:
    """The external-data file ``location`` of ``tensor``, checked to lie in the model's folder before anything
    touches the file system (as ``onnx.load`` requires): relative, no ``..``, no NUL, names within the OS limits,
    and no symbolic link leading out. Messages never say whether a file outside the folder exists.

    Parameters
    ----------
    path : Path
        The model file.
    location : str
        The tensor's ``location`` entry.
    tensor : str
        The tensor's name, for the message.

    Returns
    -------
    Path
        The data file, inside ``path.parent``.

    Raises
    ------
    ModelFileError
        A location that is empty, absolute, climbs out, is too long or leads out of the folder.
    """
    where = f"{path}: external data location {shown(location)} of tensor {shown(tensor)}"
    if not location:
        raise ModelFileError(f"{path}: tensor {shown(tensor)} is stored externally but names no data file; "
                             "export the model again", path=path)
    parts = location.replace("\\", "/").split("/")
    if "\0" in location or location.startswith(("/", "\\")) or PureWindowsPath(location).drive:
        raise ModelFileError(f"{where} is an absolute path; external data must be a relative path inside the "
                             "model's folder", path=path)
    if ".." in parts:
        raise ModelFileError(f"{where} climbs out of the model's folder with '..'; external data must be a "
                             "relative path inside the model's folder", path=path)
    if len(location.encode("utf-8", "surrogatepass")) > _PATH_MAX or any(
            len(part.encode("utf-8", "surrogatepass")) > _NAME_MAX for part in parts):
        raise ModelFileError(f"{where} is longer than the file system allows ({_NAME_MAX} bytes a name, "
                             f"{_PATH_MAX} a path); the file is corrupt, export it again", path=path)
    folder = path.parent
    file = folder / location
    try:
        inside = file.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError, ValueError):
        inside = False
    if not inside:
        raise ModelFileError(f"{where} leads out of the model's folder (a symbolic link?); keep the data file "
                             "itself next to the model", path=path)
    return file


def _all_tensors(graph: onnx.GraphProto, nodes: list[OnnxNode]) -> list[TensorProto]:
    tensors = list(graph.initializer)
    for node in nodes:
        for attribute in node.attribute:  # a loop, not a generator per node: most nodes hold no tensor
            if attribute.type == AttributeProto.TENSOR:
                tensors.append(attribute.t)
    return tensors


def topological_nodes(graph: onnx.GraphProto, nodes: list[OnnxNode], path: Path,
                      available: AbstractSet[str]) -> list[OnnxNode]:
    """``nodes`` (the records of ``graph.node``) in a dependency order (the file's order when it is one, else the
    graph is re-stored sorted); dangling inputs and cycles are errors. ``available``: the names of the graph's
    inputs and initializers."""
    producer: dict[str, int] = {}
    for index, node in enumerate(nodes):
        if not node.op_type:
            raise ModelFileError(f"{path}: node {index} ({node.name!r}) has no op_type", path=path)
        for name in node.output:
            if name and name in producer:
                raise ModelFileError(f"{path}: tensor {name!r} is produced by two nodes; ONNX graphs are SSA",
                                     path=path)
            if name:
                producer[name] = index
    in_order = True
    for index, node in enumerate(nodes):
        for name in node.input:
            if not name or name in available and name not in producer:
                continue
            if name not in producer:
                raise ModelFileError(
                    f"{path}: node {node.name or index!r} ({node.op_type}) reads {name!r}, which is neither a "
                    "graph input, an initializer nor a node output (dangling input)", path=path)
            if producer[name] >= index:
                in_order = False
    if in_order:  # the file's order is a dependency order (as exporters write it): keep it
        return nodes
    waiting = [0] * len(nodes)  # the edges, counted only for a graph to sort
    users: dict[int, list[int]] = defaultdict(list)
    for index, node in enumerate(nodes):
        for name in node.input:
            if name and not (name in available and name not in producer):
                waiting[index] += 1
                users[producer[name]].append(index)
    ready = [i for i, count in enumerate(waiting) if count == 0]  # a heap: the lowest ready index goes first,
    order: list[int] = []                                          # so a valid file order is kept as it is
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for user in users[index]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, user)
    if len(order) != len(nodes):
        raise ModelFileError(f"{path}: the graph has a cycle; ONNX graphs must be acyclic", path=path)
    if order != sorted(order):  # shape inference walks the nodes in file order: store them sorted
        protos = [NodeProto.FromString(graph.node[i].SerializeToString()) for i in order]
        del graph.node[:]
        graph.node.extend(protos)
        return node_records(graph)
    return nodes


def opset(model: onnx.ModelProto) -> int:
    """The default-domain opset; the newest one onnx knows when the model uses other domains only."""
    versions = [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")]
    return int(versions[0]) if versions else onnx.defs.onnx_opset_version()


def real_inputs(names: Sequence[str], initializers: Container[str]) -> list[str]:
    """The graph inputs (``names``, in the graph's order) that are not ``initializers`` (before IR 4, every
    initializer was also listed as an input)."""
    return [name for name in names if name not in initializers]


def main_input(declared: Mapping[str, onnx.ValueInfoProto], inputs: list[str]) -> str | None:
    """The first float graph input, else the first input (of ``inputs``, the real ones: only their types are
    read, though an older model lists every initializer as an input too); ``declared``: the graph inputs by
    name."""
    types = {name: declared[name].type.tensor_type.elem_type for name in set(inputs)}
    floats = [name for name in inputs if types[name] in FLOATS]
    return (floats or inputs or [None])[0]


def attr(node: NodeProto | OnnxNode, name: str, default: Any) -> Any:
    """The Python value of attribute ``name`` of ``node``, ``default`` when absent."""
    for attribute in node.attribute:
        if attribute.name == name:
            return attr_value(attribute)
    return default


def attr_value(attribute: AttributeProto) -> Any:
    """Python value of a scalar or list attribute (strings decoded, lists as tuples); None for tensors and graphs.
    As ``onnx.helper.get_attribute_value``, reading the attribute's type once (the common types first, compared
    with module constants: an enum read from ``AttributeProto`` is a lookup each time)."""
    kind = attribute.type
    if kind in _NOT_VALUES:
        return None
    if attribute.ref_attr_name:
        raise ValueError(f"Cannot get value of reference attribute: {attribute}")
    if kind == _INTS:
        return tuple(attribute.ints[:])
    if kind == _INT:
        return attribute.i
    if kind == _FLOAT:
        return attribute.f
    if kind == _STRING:
        return attribute.s.decode("utf-8", errors="replace")
    if kind == _FLOATS:
        return tuple(attribute.floats[:])
    if kind == _STRINGS:
        return tuple(v.decode("utf-8", errors="replace") for v in attribute.strings[:])
    if kind == AttributeProto.UNDEFINED:
        return None
    raise ValueError(f"Unsupported ONNX attribute: {attribute}")


_INT, _INTS, _FLOAT, _FLOATS, _STRING, _STRINGS = (AttributeProto.INT, AttributeProto.INTS, AttributeProto.FLOAT,
                                                   AttributeProto.FLOATS, AttributeProto.STRING, AttributeProto.STRINGS)
_NOT_VALUES = frozenset({AttributeProto.TENSOR, AttributeProto.GRAPH, AttributeProto.TENSORS, AttributeProto.GRAPHS,
                         AttributeProto.SPARSE_TENSOR, AttributeProto.SPARSE_TENSORS, AttributeProto.TYPE_PROTO,
                         AttributeProto.TYPE_PROTOS})
"""Attribute types that hold no scalar or list value."""
