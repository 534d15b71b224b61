"""MLPerf Inference reference networks, checked against published and hand-derived counts.

- ResNet-50 v1.5 (torchvision ``resnet50``): 25,557,032 parameters and 4.09 G multiply-accumulates per 224x224
  image, as published for torchvision's model (v1 strides the first 1x1 conv and has ~3.86 GMACs).
- BERT-Large SQuAD at 384 tokens (L 24, H 1024, F 4096): per block the projections ``S (4 H^2 + 2 H F)``
  = 4,831,838,208 MACs and the attention ``2 S^2 H`` = 301,989,888; with the span head ``2 S H`` = 786,432:
  24 x 5,133,828,096 + 786,432 = 123,212,660,736.
"""

from __future__ import annotations

import warnings

import pytest

from rooflinekit.counters import count_network
from rooflinekit.errors import SpecError, UnknownNameError
from rooflinekit.networks.mlperf import mlperf_network

pytest.importorskip("onnx")


def test_resnet50_is_v15():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = mlperf_network("resnet50")
        cost = count_network(net)
    assert net.name == "ResNet-50-v1.5" and net.precision.label == "int8"
    assert cost.totals["params"] == 25_557_032
    assert round(cost.totals["macs"] / 1e9, 2) == 4.09
    strided = [layer for layer in net.layers if layer.op == "conv" and layer.attrs.get("strides") == (2, 2)
               and layer.inputs[0][1] != 3]
    # v1.5: each downsampling bottleneck strides its 3x3 conv (the 1x1 stride-2 convs are the shortcuts)
    assert sorted(layer.attrs["kernel_shape"] for layer in strided) == [(1, 1)] * 3 + [(3, 3)] * 3


def test_bert_squad_macs_at_384():
    net = mlperf_network("bert-99", seq_len=384)
    assert count_network(net).totals["macs"] == 24 * (4_831_838_208 + 301_989_888) + 786_432


def test_llm_benchmarks_build_prefill_and_decode():
    step = mlperf_network("llama2-70b-99", batch=2, context_len=1500)
    assert int(count_network(step).layers["state_bytes"].sum()) == 2 * 1500 * 80 * 2 * 8 * 128 * 2
    gptj = mlperf_network("gptj-99", seq_len=16)
    assert gptj.layers[0].outputs[0] == (1, 16, 4096)


def test_unbuilt_and_unknown_benchmarks():
    with pytest.raises(SpecError, match="'retinanet' is not built in: RetinaNet"):
        mlperf_network("retinanet")
    with pytest.raises(UnknownNameError, match="unknown MLPerf benchmark 'dlrm'"):
        mlperf_network("dlrm")
