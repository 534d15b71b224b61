"""Imported decoder graphs with past-key/value inputs: their KV cache as layer state.

A decoder exported for generation (Hugging Face / Optimum ONNX ``decoder_with_past``, a hand-built GPT decode
graph) takes the cache as graph inputs (``past_key_values.0.key``, ``past_key_values.0.value``, ``past.0``, ...)
of ``past`` tokens, concatenates the new token's K and V and attends over the result. Imported as it is, the cache
is an ordinary activation: the default ``weights_only`` traffic then moves none of it, so a decode step costs the
same at context 128 and 2,047. :func:`with_kv_cache_state` turns those inputs into ``state`` of the layers that
read them, the role the transformer builder gives its cache (:mod:`rooflinekit.networks.transformer`): every
traffic model then reads ``B x past x heads x head_dim x bytes`` per cache tensor per step, as the config path does.

Bind the past length when importing, e.g. ``load_model(path, input_shapes={"past_key_values.0.key":
[B, heads, past, head_dim], ...})`` (one entry per cache input), and predict the marked network with
:func:`rooflinekit.predict`; or let :func:`load_decoder` bind every input for a phase and mark the cache
(what ``predict_llm("decoder.onnx", ...)`` does).

**Recognition rule** (:func:`decoder_inputs`). The cache inputs are the real graph inputs whose name matches
:data:`KV_INPUT_PATTERN`. A cache input's **past axis** is its non-leading symbolic dim whose name mentions
``past``, ``seq``, ``len`` or ``total``, else its only non-leading symbolic dim, else axis -2 (the
``(batch, heads, past, head_dim)`` layout of Optimum / transformers exports). The dims of every input are then
bound per phase: the leading dim of an input to the batch (unless the model fixes it), a cache input's past axis
and any dim sharing its name to ``past``, the other symbolic dims of an attention mask (an input whose name
contains ``mask``) or named with ``past``, ``total`` or ``+`` (``past_sequence_length + 1``) to ``past +
sequence``, every other symbolic dim to ``sequence``; fixed dims stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rooflinekit.descriptors import LayerNetwork, TensorSpec
from rooflinekit.display import absent
from rooflinekit.errors import ModelFileError, SpecError

KV_INPUT_PATTERN = re.compile(r"(^|[._/\-])(?i:past|cache)(?![a-z])|(?i:key|value|kv)[._/\-]?(?i:cache)")
"""Graph input names taken for KV-cache inputs: ``past_key_values.{i}.key`` / ``.value``, ``past_key.{i}``,
``past.{i}``, ``pastKey``, ``cache_k``, ``key_cache``, ``kv_cache``, ... (not ``pasta``)."""


def kv_cache_inputs(network: LayerNetwork) -> tuple[str, ...]:
    """Names of the graph inputs of ``network`` that look like KV-cache inputs (:data:`KV_INPUT_PATTERN`): read
    by some layer, produced by none; in order of first use."""
    produced = {name for layer in network.layers for name in layer.output_names}
    return tuple(dict.fromkeys(name for layer in network.layers for name in layer.input_names
                               if name not in produced and KV_INPUT_PATTERN.search(name)))


def with_kv_cache_state(network: LayerNetwork, names: Iterable[str] | None = None) -> LayerNetwork:
    """``network`` with its KV-cache graph inputs moved from the inputs of the layers reading them to their state.

    Parameters
    ----------
    network : LayerNetwork
        An imported decoder (its layers name their tensors).
    names : iterable of str, optional
        The cache inputs; default :func:`kv_cache_inputs`.

    Returns
    -------
    LayerNetwork
        The same layers; a layer reading a cache input ``(B, heads, past, head_dim)`` carries it as a state tensor
        of that shape (at the input's own dtype where the layer gave one), read once per step by every traffic
        model, and no longer as an input.

    Raises
    ------
    SpecError
        No cache input found (the graph inputs are listed), a name no layer reads, or layers without tensor names.
    """
    if not any(layer.input_names for layer in network.layers):
        raise SpecError(f"{network.name}: its layers do not name their tensors, so the cache inputs cannot be "
                        "found; import the model file with rooflinekit.importers.load_model")
    chosen = tuple(kv_cache_inputs(network) if names is None else names)
    produced = {name for layer in network.layers for name in layer.output_names}
    graph_inputs = list(dict.fromkeys(n for layer in network.layers for n in layer.input_names if n not in produced))
    if not chosen:
        raise SpecError(f"{network.name}: no past-key/value input found among the graph inputs {graph_inputs}; "
                        "name them with names=[...]")
    unread = sorted(set(chosen) - set(graph_inputs))
    if unread:
        raise SpecError(f"{network.name}: no layer reads the graph inputs {unread}; the graph inputs are "
                        f"{graph_inputs}")
    wanted = set(chosen)
    layers = []
    for layer in network.layers:
        keep = [i for i, name in enumerate(layer.input_names) if name not in wanted]
        if len(keep) == len(layer.input_names):
            layers.append(layer)
            continue
        moved = [i for i in range(len(layer.inputs)) if i not in keep]
        dtypes = layer.input_dtypes or (None,) * len(layer.inputs)
        state = tuple(TensorSpec(shape=layer.inputs[i], dtype=dtypes[i]) for i in moved)
        layers.append(layer.model_copy(update={
            "inputs": tuple(layer.inputs[i] for i in keep), "input_names": tuple(layer.input_names[i] for i in keep),
            "input_dtypes": tuple(layer.input_dtypes[i] for i in keep) if layer.input_dtypes else (),
            "state": (*layer.state, *state)}))
    return network.model_copy(update={"layers": tuple(layers)})


_PAST_HINT = re.compile(r"(?i)past|seq|len|total")
_TOTAL_HINT = re.compile(r"(?i)past|total|\+")

Dim = int | str | None
"""A declared graph-input dim: a fixed size, a symbolic name, or None (neither)."""


@dataclass(frozen=True)
class DecoderInputs:
    """The graph inputs of an ONNX decoder export and the axis of each cache input that is the past length.

    Attributes
    ----------
    path : Path
        The ``.onnx`` file.
    dims : dict of str to tuple
        Declared dims of every real (non-initializer) graph input, in graph order: ints, dim names or None.
    cache : tuple of str
        The cache inputs (:data:`KV_INPUT_PATTERN`).
    past_axis : dict of str to int
        Each cache input's past-length axis (the recognition rule of the module docstring).
    """

    path: Path
    dims: dict[str, tuple[Dim, ...]]
    cache: tuple[str, ...]
    past_axis: dict[str, int]

    def input_shapes(self, batch: int, sequence: int, past: int) -> dict[str, list[int]]:
        """Every input's dims for ``batch`` sequences of ``sequence`` new tokens over a cache of ``past`` tokens
        (the binding rule of the module docstring), as ``input_shapes`` of the importer."""
        past_names = {d for name in self.cache for d in (self.dims[name][self.past_axis[name]],)
                      if isinstance(d, str)}
        shapes: dict[str, list[int]] = {}
        for name, dims in self.dims.items():
            shape: list[int] = []
            for axis, dim in enumerate(dims):
                if name in self.past_axis and axis == self.past_axis[name] % len(dims) or dim in past_names:
                    shape.append(past)
                elif isinstance(dim, int) and dim > 0:
                    shape.append(dim)
                elif axis == 0:
                    shape.append(batch)
                elif "mask" in name.lower() or (isinstance(dim, str) and _TOTAL_HINT.search(dim)):
                    shape.append(past + sequence)
                else:
                    shape.append(sequence)
            shapes[name] = shape
        return shapes


def decoder_inputs(path: str | Path) -> DecoderInputs:
    """Read the graph inputs of the ONNX decoder export at ``path`` and recognize its past-key/value inputs.

    Parameters
    ----------
    path : str or Path
        A ``.onnx`` decoder exported with its KV cache as inputs (Optimum ``decoder_with_past`` /
        ``decoder_model_merged``: ``past_key_values.{i}.key`` / ``.value`` of ``(batch, heads,
        past_sequence_length, head_dim)``).

    Returns
    -------
    DecoderInputs

    Raises
    ------
    ModelFileError
        A missing or unreadable file.
    SpecError
        No graph input is a past-key/value input (the inputs are listed, with the names expected).
    """
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: {absent(path, 'model file')}", path=path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError, ... for a file it cannot parse
        raise ModelFileError(f"{path}: not a readable ONNX model ({exc}); re-export it", path=path) from exc
    constants = {t.name for t in model.graph.initializer}
    dims: dict[str, tuple[Dim, ...]] = {}
    for value in model.graph.input:
        if value.name in constants or not value.type.HasField("tensor_type"):
            continue
        shape = value.type.tensor_type.shape
        dims[value.name] = tuple(d.dim_value if d.HasField("dim_value") else d.dim_param or None
                                 for d in shape.dim)
    cache = tuple(name for name in dims if KV_INPUT_PATTERN.search(name) and dims[name])
    if not cache:
        raise SpecError(f"{path}: no past-key/value input among the graph inputs {list(dims)}; predict_llm "
                        "expects a decoder exported with its KV cache as inputs (names like "
                        "'past_key_values.0.key' / 'past_key_values.0.value' of shape (batch, heads, "
                        "past_sequence_length, head_dim)): export it with use_cache / with past (Optimum "
                        "'text-generation-with-past'), or predict the file with rk.predict")
    return DecoderInputs(path, dims, cache, {name: _past_axis(dims[name]) for name in cache})


def _past_axis(dims: tuple[Dim, ...]) -> int:
    """The past-length axis of a cache input (the rule of the module docstring)."""
    symbolic = [axis for axis, dim in enumerate(dims) if axis > 0 and not (isinstance(dim, int) and dim > 0)]
    named = [axis for axis in symbolic if isinstance(dims[axis], str) and _PAST_HINT.search(str(dims[axis]))]
    if named:
        return named[0]
    if len(symbolic) == 1:
        return symbolic[0]
    return len(dims) - 2 if len(dims) >= 2 else 0


def load_decoder(inputs: DecoderInputs, batch: int, sequence: int, past: int) -> LayerNetwork:
    """Import the decoder for ``batch`` sequences of ``sequence`` new tokens over ``past`` cached tokens, its
    cache inputs marked as KV-cache state (:func:`with_kv_cache_state`).

    Parameters
    ----------
    inputs : DecoderInputs
        From :func:`decoder_inputs`.
    batch, sequence, past : int
        B, the new tokens per sequence and the cached ones (>= 1: the importer takes no empty input; a phase
        without a cache is extrapolated from two past lengths, :func:`rooflinekit.llm.predict_llm`).

    Returns
    -------
    LayerNetwork
        Of batch ``batch``; each cache input a state tensor of the layer reading it.

    Raises
    ------
    ShapeError
        A dim the binding rule cannot give (a symbolic head count, ...); the importer names it.
    SpecError
        No layer reads the cache inputs.
    """
    from rooflinekit.importers import load_model

    network = load_model(inputs.path, batch=batch, input_shapes=inputs.input_shapes(batch, sequence, past))
    return with_kv_cache_state(network, inputs.cache)
