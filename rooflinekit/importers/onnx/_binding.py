"""Binding symbolic or missing graph-input dims to sizes.

Any dim comes from ``input_shapes`` (input name -> dims, overriding the model's); a dim name (``seq_len``) bound
in one input is bound in all. The batch is the leading dim: of the main input (:func:`._reading.main_input`) and
of every input whose leading dim the model leaves symbolic or missing. ``batch`` (None: the model's own) binds the
leading dims still unbound, and must agree with every leading dim that ``input_shapes`` or the main input's fixed
size sets. Graph input shapes are rewritten in place, ready for shape inference.
"""

from __future__ import annotations

from numbers import Integral
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import onnx

from rooflinekit._limits import SHOWN_CHARS, shown
from rooflinekit.errors import ShapeError
from rooflinekit.importers.onnx._shapes import Dim, declared_dims


def bind_inputs(declared: Mapping[str, onnx.ValueInfoProto], inputs: list[str], main: str | None,
                batch: int | None, input_shapes: Mapping[str, Sequence[int | str]], path: Path) -> int:
    """Give every dim of every real graph input a size, rewriting the graph inputs in place.

    Parameters
    ----------
    declared : Mapping of str to onnx.ValueInfoProto
        The graph's inputs by name, rewritten in place.
    inputs : list of str
        Its real (non-initializer) inputs.
    main : str or None
        The main input, whose leading dim is the batch even when the model fixes it.
    batch : int or None
        The batch; None takes it from ``input_shapes``, else the main input's fixed leading dim, else 1.
    input_shapes : Mapping of str to sequence of int or str
        Dims by input name, overriding the model's; dim names are bound to sizes given elsewhere.
    path : Path
        The model file, named in errors.

    Returns
    -------
    int
        The batch: the leading dim of the main input (or of the batch inputs when it has none).

    Raises
    ------
    ShapeError
        An input is unknown or malformed in ``input_shapes``, ``batch`` disagrees with a leading dim that
        ``input_shapes`` or the model fixes, or a dim is left unbound.

    Notes
    -----
    Order: ``input_shapes`` entries; dim names bound by them; the batch (``batch``, else a leading dim just set);
    leading dims still symbolic or missing get the batch; then dim names bound by those.
    """
    by_name = {name: declared[name] for name in inputs}
    unknown = sorted(set(input_shapes) - set(by_name))
    if unknown:
        raise ShapeError(f"{path}: input_shapes names {shown(unknown)}, which are not graph inputs; inputs are "
                         f"{shown(inputs)}")
    dims: dict[str, list[Dim]] = {}
    declared: dict[str, tuple[Dim, ...] | None] = {}  # each input's dims as the model declares them, read once
    for name in inputs:
        if not by_name[name].type.HasField("tensor_type"):  # a sequence or optional: no dims to bind
            continue
        declared[name] = declared_dims(by_name[name])
        dims[name] = _requested_dims(name, declared[name], input_shapes.get(name), path)
    inputs = [name for name in inputs if name in dims]
    symbols: dict[str, int] = {}
    for name in inputs:
        _learn_symbols(name, declared[name], dims[name], symbols, path)
    batch = _batch(inputs, main, batch, declared, dims, input_shapes, symbols, path)
    for name in inputs:
        first = dims[name][0] if dims[name] else 0
        if not isinstance(first, int):
            dims[name][0] = symbols.setdefault(first, batch) if first else batch
    for name in inputs:
        resolved = [_resolve_dim(name, i, d, symbols, path) for i, d in enumerate(dims[name])]
        _write_dims(by_name[name], resolved)
    return batch


def _batch(inputs: list[str], main: str | None, batch: int | None, declared: dict[str, tuple[Dim, ...] | None],
           dims: dict[str, list[Dim]], input_shapes: Mapping[str, Sequence[int | str]], symbols: dict[str, int],
           path: Path) -> int:
    """The batch, checked against the leading dims that set it: of the main input, and of every input whose
    leading dim the model leaves symbolic or missing (an input with a fixed leading dim besides the main one, such
    as an LSTM's initial state (directions, N, H), has another leading axis)."""
    set_by: list[tuple[str, int, str]] = []  # (input, leading size, what sets it)
    for name in inputs:
        model_dims = declared[name]
        model_first = model_dims[0] if model_dims else None
        if name != main and isinstance(model_first, int) and model_first > 0:
            continue
        first = dims[name][0] if dims[name] else None
        size = symbols.get(first) if isinstance(first, str) else first
        if not isinstance(size, int) or size < 1:
            continue
        if name in input_shapes:
            source = f"input_shapes[{shown(name)}] = {shown(_with_sizes(dims[name], symbols))}"
        elif isinstance(first, str):
            source = (f"input_shapes, which binds dim {shown(first)} (the leading dim of input {shown(name)}) to "
                      f"{size},")
        else:
            source = ""
        set_by.append((name, size, source))
    for name, size, source in set_by:
        if batch is None or size == batch:
            continue
        if source:
            raise ShapeError(f"{path}: batch {batch} and {source} disagree: the leading dim of input {shown(name)} is "
                             f"the batch ({size}); give the same batch in both, or only one of them")
        shape = _with_sizes(dims[name], symbols)
        override = [batch, *shape[1:]]
        option = _cut(f"{name}={','.join(map(str, override))}")
        raise ShapeError(f"{path}: batch {batch} contradicts input {shown(name)}, whose leading dim is fixed to {size} "
                         f"in the model (shape {shown(shape)}); import it at its own batch {size} (leave batch unset), "
                         f"override the model's shape with input_shapes={{{shown(name)}: {shown(override)}}} "
                         f"(--input-shape {option}), or export the model with a dynamic batch dim")
    if batch is not None:
        return batch
    main_size = next((size for name, size, _ in set_by if name == main), None)
    return main_size or next((size for _, size, source in set_by if source), 1)


def _with_sizes(dims: list[Dim], symbols: dict[str, int]) -> list[Dim]:
    """Dims with the names bound so far replaced by their sizes, for messages."""
    return [symbols.get(d, d) if isinstance(d, str) else d for d in dims]


def _cut(text: str) -> str:
    """Plain ``text`` (not a repr) cut to :data:`~rooflinekit._limits.SHOWN_CHARS`, ``...`` marking the cut."""
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."


def _requested_dims(name: str, declared: tuple[Dim, ...] | None, given: Sequence[int | str] | None,
                    path: Path) -> list[Dim]:
    if given is None:
        if declared is None:
            raise ShapeError(f"{path}: graph input {shown(name)} has no shape; pass "
                             f"input_shapes={{{shown(name)}: [...]}}")
        return list(declared)
    if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
        raise ShapeError(f"{path}: input_shapes[{shown(name)}] must be a list of dims, got {shown(given)}")
    given = list(given)
    if declared is not None and len(given) != len(declared):
        raise ShapeError(f"{path}: input_shapes[{shown(name)}] = {shown(given)} has {len(given)} dims, the model's "
                         f"input has {len(declared)}: {shown(list(declared))}")
    return [_parse_dim(name, d, path) for d in given]


def _parse_dim(name: str, dim: int | str, path: Path) -> Dim:
    """An integer or decimal string is a size (> 0); any other string is a dim name bound elsewhere."""
    if isinstance(dim, str) and dim.strip().isdigit():
        dim = int(dim)
    elif isinstance(dim, Integral) and not isinstance(dim, bool):
        dim = int(dim)
    if not isinstance(dim, (int, str)) or isinstance(dim, bool) or isinstance(dim, int) and dim < 1:
        raise ShapeError(f"{path}: input_shapes[{shown(name)}] has dim {shown(dim)}; use positive ints or dim names")
    return dim


def _learn_symbols(name: str, declared: tuple[Dim, ...] | None, dims: list[Dim], symbols: dict[str, int],
                   path: Path) -> None:
    """Where the model declares a dim name and the request gives a size, the name is bound to that size."""
    for decl, dim in zip(declared or (), dims):
        if isinstance(decl, str) and isinstance(dim, int):
            if symbols.setdefault(decl, dim) != dim:
                raise ShapeError(f"{path}: dim {shown(decl)} of input {shown(name)} is bound to both {symbols[decl]} "
                                 f"and {dim}; give one size per dim name")


def _resolve_dim(name: str, index: int, dim: Dim, symbols: dict[str, int], path: Path) -> int:
    """A size (0 is an empty tensor, which ONNX allows), or the size bound to a dim name."""
    if isinstance(dim, int):
        return dim
    if dim in symbols:
        return symbols[dim]
    label = shown(dim) if dim else "(no name, size missing)"
    raise ShapeError(f"{path}: input {shown(name)} dim {index} {label} is symbolic and unbound; it changes the "
                     f"counts, so pass input_shapes={{{shown(name)}: [...]}} with a size for it")


def _write_dims(value_info: onnx.ValueInfoProto, dims: list[int]) -> None:
    shape = value_info.type.tensor_type.shape
    shape.ClearField("dim")
    for size in dims:
        shape.dim.add().dim_value = size
