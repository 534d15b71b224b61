"""Binding symbolic or missing graph-input dims to sizes.

The first dim of each graph input comes from ``batch``, any dim from ``input_shapes`` (input name -> dims,
overriding); a dim name (``seq_len``) bound in one input is bound in all. Graph input shapes are rewritten in
place, ready for shape inference.
"""

from __future__ import annotations

from numbers import Integral
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import onnx

from rooflinekit.errors import ModelFileError, ShapeError
from rooflinekit.importers.onnx._shapes import Dim, declared_dims


def bind_inputs(graph: onnx.GraphProto, inputs: list[str], batch: int,
                input_shapes: Mapping[str, Sequence[int | str]], path: Path) -> None:
    """Give every dim of every real graph input a size, rewriting the graph inputs in place.

    Order: ``input_shapes`` entries; dim names bound by them; a first dim still symbolic or missing gets
    ``batch``; then dim names bound by those. Any dim left unbound is a :class:`ShapeError` naming input and dim.
    """
    by_name = {i.name: i for i in graph.input if i.name in set(inputs)}
    unknown = sorted(set(input_shapes) - set(by_name))
    if unknown:
        raise ShapeError(f"{path}: input_shapes names {unknown}, which are not graph inputs; inputs are {inputs}")
    dims: dict[str, list[Dim]] = {}
    for name in inputs:
        if not by_name[name].type.HasField("tensor_type"):
            raise ModelFileError(f"{path}: graph input {name!r} is not a tensor; rooflinekit imports tensor graphs")
        dims[name] = _requested_dims(name, declared_dims(by_name[name]), input_shapes.get(name), path)
    symbols: dict[str, int] = {}
    for name in inputs:
        _learn_symbols(name, declared_dims(by_name[name]), dims[name], symbols, path)
    for name in inputs:
        first = dims[name][0] if dims[name] else 0
        if not isinstance(first, int):
            dims[name][0] = symbols.setdefault(first, batch) if first else batch
    for name in inputs:
        resolved = [_resolve_dim(name, i, d, symbols, path) for i, d in enumerate(dims[name])]
        _write_dims(by_name[name], resolved)


def _requested_dims(name: str, declared: tuple[Dim, ...] | None, given: Sequence[int | str] | None,
                    path: Path) -> list[Dim]:
    if given is None:
        if declared is None:
            raise ShapeError(f"{path}: graph input {name!r} has no shape; pass input_shapes={{{name!r}: [...]}}")
        return list(declared)
    if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
        raise ShapeError(f"{path}: input_shapes[{name!r}] must be a list of dims, got {given!r}")
    given = list(given)
    if declared is not None and len(given) != len(declared):
        raise ShapeError(f"{path}: input_shapes[{name!r}] = {list(given)} has {len(given)} dims, the model's "
                         f"input has {len(declared)}: {list(declared)}")
    return [_parse_dim(name, d, path) for d in given]


def _parse_dim(name: str, dim: int | str, path: Path) -> Dim:
    """An integer or decimal string is a size (> 0); any other string is a dim name bound elsewhere."""
    if isinstance(dim, str) and dim.strip().isdigit():
        dim = int(dim)
    elif isinstance(dim, Integral) and not isinstance(dim, bool):
        dim = int(dim)
    if not isinstance(dim, (int, str)) or isinstance(dim, bool) or isinstance(dim, int) and dim < 1:
        raise ShapeError(f"{path}: input_shapes[{name!r}] has dim {dim!r}; use positive ints or dim names")
    return dim


def _learn_symbols(name: str, declared: tuple[Dim, ...] | None, dims: list[Dim], symbols: dict[str, int],
                   path: Path) -> None:
    """Where the model declares a dim name and the request gives a size, the name is bound to that size."""
    for decl, dim in zip(declared or (), dims):
        if isinstance(decl, str) and isinstance(dim, int):
            if symbols.setdefault(decl, dim) != dim:
                raise ShapeError(f"{path}: dim {decl!r} of input {name!r} is bound to both {symbols[decl]} "
                                 f"and {dim}; give one size per dim name")


def _resolve_dim(name: str, index: int, dim: Dim, symbols: dict[str, int], path: Path) -> int:
    """A size (0 is an empty tensor, which ONNX allows), or the size bound to a dim name."""
    if isinstance(dim, int):
        if dim < 0:
            raise ShapeError(f"{path}: input {name!r} dim {index} is {dim}; sizes cannot be negative, "
                             f"pass input_shapes={{{name!r}: [...]}}")
        return dim
    if dim in symbols:
        return symbols[dim]
    label = f"{dim!r}" if dim else "(no name, size missing)"
    raise ShapeError(f"{path}: input {name!r} dim {index} {label} is symbolic and unbound; it changes the "
                     f"counts, so pass input_shapes={{{name!r}: [...]}} with a size for it")


def _write_dims(value_info: onnx.ValueInfoProto, dims: list[int]) -> None:
    shape = value_info.type.tensor_type.shape
    shape.ClearField("dim")
    for size in dims:
        shape.dim.add().dim_value = size
