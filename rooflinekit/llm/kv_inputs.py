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
:func:`rooflinekit.predict`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rooflinekit.descriptors import LayerNetwork, TensorSpec
from rooflinekit.errors import SpecError

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
