"""The MLPerf Inference reference networks, built from the project's own importers and builders.

==================  =============================================================================================
benchmark           network
==================  =============================================================================================
resnet50            ResNet-50 **v1.5** at 224x224: the ONNX model zoo's ResNet-50 that the ``onnx`` package ships
                    with light weights (``onnx/backend/test/data/light/light_resnet50.onnx``), imported. It is v1.5:
                    the stride-2 convolution of each downsampling bottleneck is the 3x3 one (v1 strides the first
                    1x1), giving 4,089,184,256 MACs and 25,557,032 parameters (torchvision's ``resnet50``).
bert-99, bert-99.9  BERT-Large with a SQuAD span head (two logits per token) at the padded sequence length 384.
                    The harnesses drop padding, so a sample's real work is its own (shorter) SQuAD sequence: pass
                    ``seq_len`` to count at that length.
gptj-99, gptj-99.9  GPT-J-6B (bundled config): a prefill of ``seq_len`` tokens (default 1919, the benchmark's
                    maximum input) or, with ``context_len``, a decode step (see
                    :func:`rooflinekit.networks.transformer.decode_network`).
llama2-70b-*        Llama-2-70B (bundled config), likewise (default prefill 1024 tokens).
retinanet,          not built: RetinaNet (ResNeXt-50 FPN, 800x800) needs the detection head and anchors, which no
3d-unet-*           bundled model file or builder provides; 3D-UNet (KiTS19) needs its 3-D encoder-decoder. Import
                    their ONNX exports with :func:`rooflinekit.importers.load_model` instead.
==================  =============================================================================================
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from rooflinekit.descriptors import LayerNetwork, Precision
from rooflinekit.errors import SpecError, UnknownNameError
from rooflinekit.networks.transformer import decode_network, transformer_network

MLPERF_BENCHMARKS = ("resnet50", "bert-99", "bert-99.9", "gptj-99", "gptj-99.9", "llama2-70b-99",
                     "llama2-70b-99.9")
"""Benchmarks :func:`mlperf_network` builds (the ``benchmark`` column of the MLPerf Inference results)."""
NOT_BUILT = {"retinanet": "RetinaNet (ResNeXt-50 FPN, 800x800) needs its detection head and anchors",
             "3d-unet-99": "3D-UNet (KiTS19) needs its 3-D encoder-decoder",
             "3d-unet-99.9": "3D-UNet (KiTS19) needs its 3-D encoder-decoder"}


def _light_resnet50_path() -> str:
    try:
        import onnx
    except ImportError:
        raise SpecError("ResNet-50 v1.5 is imported from the onnx package's light model; install the 'onnx' extra "
                        "(pip install 'rooflinekit[onnx]')") from None
    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light", "light_resnet50.onnx")


@lru_cache(maxsize=16)
def resnet50_v15(batch: int = 1, precision: str = "int8") -> LayerNetwork:
    """ResNet-50 v1.5 at 224x224 (MLPerf's ``resnet50``), imported from the onnx package's light model.

    Parameters
    ----------
    batch : int
        Images per batch (the leading input dim).
    precision : str
        Precision label of the network (MLPerf submissions run int8).

    Returns
    -------
    LayerNetwork
        Named ``ResNet-50-v1.5``; 4,089,184,256 MACs and 25,557,032 parameters per image.
    """
    from rooflinekit.importers import load_model

    path = _light_resnet50_path()
    if not os.path.isfile(path):
        raise SpecError(f"{path}: the onnx package has no light ResNet-50; reinstall onnx (>= 1.15)")
    network = load_model(path, batch=batch)
    return network.model_copy(update={
        "name": "ResNet-50-v1.5", "aliases": ("resnet50-v1.5",), "task": "ImageNet classification (MLPerf)",
        "precision": Precision.parse(precision),
        "source": "ONNX model zoo ResNet-50 (v1.5 layout: stride on the 3x3 conv) shipped with light weights by the "
                  "onnx package; MLPerf Inference resnet50 reference model (224x224)"})


def mlperf_network(benchmark: str, batch: int = 1, precision: str | None = None, **options: Any) -> LayerNetwork:
    """The network of an MLPerf Inference benchmark.

    Parameters
    ----------
    benchmark : str
        A name of :data:`MLPERF_BENCHMARKS` (the results' ``benchmark`` column; case-insensitive).
    batch : int
        Samples (images, sequences) per batch.
    precision : str, optional
        Network precision; default int8 for resnet50 and bert, fp16 for the LLMs.
    **options
        For bert: ``seq_len`` (default 384). For the LLMs: ``seq_len`` (prefill tokens) or ``context_len`` (a
        decode step reading that many cached tokens), and any keyword of
        :func:`~rooflinekit.networks.transformer.transformer_network`.

    Returns
    -------
    LayerNetwork

    Raises
    ------
    SpecError
        For retinanet and 3d-unet (not built; the message says what is missing).
    UnknownNameError
        Any other benchmark name.
    """
    key = benchmark.strip().lower()
    if key in NOT_BUILT:
        raise SpecError(f"MLPerf benchmark {benchmark!r} is not built in: {NOT_BUILT[key]}; import its ONNX export "
                        "with rooflinekit.importers.load_model")
    if key == "resnet50":
        if options:
            raise SpecError(f"resnet50 takes no options, got {sorted(options)}")
        return resnet50_v15(batch, precision or "int8")
    if key.startswith("bert-"):
        seq_len = options.pop("seq_len", 384)
        return transformer_network("BERT-Large", batch=batch, seq_len=seq_len, head="qa",
                                   weights=precision or "int8", name=f"BERT-Large-SQuAD s{seq_len}", **options)
    for prefix, config, default_len in (("gptj-", "GPT-J-6B", 1919), ("llama2-70b-", "Llama-2-70B", 1024)):
        if key.startswith(prefix) and key in MLPERF_BENCHMARKS:
            weights = precision or "fp16"
            if "context_len" in options and "seq_len" not in options:
                return decode_network(config, batch=batch, weights=weights, **options)
            return transformer_network(config, batch=batch, seq_len=options.pop("seq_len", default_len),
                                       weights=weights, **options)
    raise UnknownNameError(f"unknown MLPerf benchmark {benchmark!r}; built: {', '.join(MLPERF_BENCHMARKS)} "
                           f"(not built: {', '.join(NOT_BUILT)})", name=benchmark, kind="MLPerf benchmark")
