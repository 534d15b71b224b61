"""The transformer networks of the NeuSight measurements (``../shared/data/neusight/gpu_e2e.csv``).

Each ``model_name`` of the data maps to a bundled config (``model_specs/transformers``), with the figures the
NeuSight artifact's model configs define (see the data README): bert_large -> ``BERT-Large``, gpt2_large ->
``NeuSight-gpt2_large``, gpt3_xl -> ``NeuSight-gpt3_xl`` (hidden 3072, wider than the GPT-3 paper's 2048),
gpt3_27 -> ``NeuSight-gpt3_27``, opt_13 -> ``NeuSight-opt_13``. A row is one forward pass over ``batch`` sequences
of ``seqlen`` tokens in fp32: the causal models with their LM head over every position, BERT with no head (the
encoder's last hidden states). ``switchxl4`` (Switch-XL with 4 experts) is not built: the README gives no
dimensions for it.
"""

from __future__ import annotations

from rooflinekit.descriptors import LayerNetwork
from rooflinekit.errors import SpecError, UnknownNameError
from rooflinekit.networks.transformer import bundled_config, transformer_network

NEUSIGHT_MODELS = {"bert_large": "BERT-Large", "gpt2_large": "NeuSight-gpt2_large", "gpt3_xl": "NeuSight-gpt3_xl",
                   "gpt3_27": "NeuSight-gpt3_27", "opt_13": "NeuSight-opt_13"}
"""NeuSight ``model_name`` -> bundled config name."""


def neusight_network(model_name: str, batch: int, seqlen: int, precision: str = "fp32") -> LayerNetwork:
    """The network of one NeuSight measurement row.

    Parameters
    ----------
    model_name : str
        The data's ``model_name`` (a key of :data:`NEUSIGHT_MODELS`).
    batch, seqlen : int
        The row's ``batch`` and ``seqlen``: sequences and tokens per sequence of the forward pass.
    precision : str
        Weights and activations (the measurements are fp32).

    Returns
    -------
    LayerNetwork
        A prefill over ``seqlen`` tokens (no KV cache), named ``"{model_name} b{batch} s{seqlen}"``.

    Raises
    ------
    SpecError
        For ``switchxl4`` (no dimensions given).
    UnknownNameError
        Any other unknown name.
    """
    if model_name == "switchxl4":
        raise SpecError("NeuSight model 'switchxl4' (Switch-XL, 4 experts) is not built: the data README gives no "
                        "layer figures for it; add its config to model_specs/transformers to build it")
    if model_name not in NEUSIGHT_MODELS:
        raise UnknownNameError(f"unknown NeuSight model {model_name!r}; known: {', '.join(NEUSIGHT_MODELS)}",
                               name=model_name, kind="NeuSight model")
    config = NEUSIGHT_MODELS[model_name]
    return transformer_network(bundled_config(config), batch=batch, seq_len=seqlen, weights=precision,
                               head="none" if model_name == "bert_large" else "lm",
                               name=f"{model_name} b{batch} s{seqlen}")
