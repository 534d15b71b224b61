"""Layer-level ImageNet networks of QuTiBench, checked against published and hand-derived counts.

Conv MACs = H_out W_out C_out C_in k^2 / groups; fc MACs = C_in C_out.

ResNet-50 v1 at 224 (He et al. 2016, Table 1: "3.8 x 10^9 FLOPs", multiply-adds), by hand per stage (bottleneck
of width p at output side H: conv1 C_in p, conv2 9 p^2, conv3 4 p^2, times H^2; shortcut C_in 4p H^2):

- conv1 7x7/2 3 -> 64 at 112: 112^2 x 64 x 147 = 118,013,952
- stage 1 (p 64, 56^2 = 3136): block 0: 3136 x (64 x 64 + 9 x 64^2 + 4 x 64^2 + 64 x 256) = 231,211,008;
  blocks 1-2: 3136 x (256 x 64 + 9 x 64^2 + 4 x 64^2) = 218,365,952 each; stage 667,942,912
- stage 2 (p 128, 28^2 = 784; v1: the block-0 conv1 strided, so at 784): block 0: 784 x (256 x 128 + 9 x 128^2 +
  4 x 128^2 + 256 x 512) = 295,436,288; blocks 1-3: 784 x (512 x 128 + 13 x 128^2) = 218,365,952 each;
  stage 950,534,144
- stage 3 (p 256, 196): block 0: 196 x (512 x 256 + 13 x 256^2 + 512 x 1024) = 295,436,288; blocks 1-5:
  196 x (1024 x 256 + 13 x 256^2) = 218,365,952 each; stage 1,387,266,048
- stage 4 (p 512, 49): block 0: 49 x (1024 x 512 + 13 x 512^2 + 1024 x 2048) = 295,436,288; blocks 1-2:
  49 x (2048 x 512 + 13 x 512^2) = 218,365,952 each; stage 732,168,192
- fc 2048 x 1000 = 2,048,000; total 3,857,973,248 (QuTiBench: 7.72 GOP).

v1.5 strides the 3x3 conv instead, so its block-0 conv1 runs at (2H)^2: C_in p (4 - 1) H^2 more MACs, i.e.
256 x 128 x 3 x 784 = 512 x 256 x 3 x 196 = 1024 x 512 x 3 x 49 = 77,070,336 per downsampling block.
Parameters: torchvision's resnet50, 25,557,032 (batch-norm scale and shift included); batch-norm channels
64 + 3 x 384 + 256 + 4 x 768 + 512 + 6 x 1536 + 1024 + 3 x 3072 + 2048 = 26,560 (one parameter each fewer when
folded into a bias).

MobileNet v1 1.0-224 (Howard et al. 2017, Tables 1, 2, 6, 7), by hand: conv1 112^2 x 32 x 27 = 10,838,016;
depthwise 9 x (112^2 x 32 + 56^2 x (64 + 128) + 28^2 x (128 + 256) + 14^2 x (256 + 5 x 512) + 7^2 x (512 + 1024))
= 17,385,984; pointwise 112^2 x 32 x 64 + 56^2 x (64 x 128 + 128^2) + 28^2 x (128 x 256 + 256^2) + 14^2 x
(256 x 512 + 5 x 512^2) + 7^2 x (512 x 1024 + 1024^2) = 539,492,352; fc 1,024,000: 568,740,352 (paper: 569 M).
Weights: 864 + 9 x 4960 = 44,640 (depthwise) + 3,139,584 (pointwise) + 1,024,000 (fc) + 864 = 4,209,088 (4.2 M).

GoogLeNet (Szegedy et al. 2014, Table 1), Inception module at side H from C channels:
H^2 (C (n1 + n3r + n5r + proj) + 9 n3r n3 + 25 n5r n5); 3a: 784 x (192 x 208 + 9 x 96 x 128 + 25 x 16 x 32) =
128,049,152 (Table 1: 128 M).

EfficientNet-EdgeTPU-S, by hand (tensorflow/tpu efficientnet_model.py): block 1 (fused, 24 -> 32, expand 8,
stride on the 1x1 projection): 3x3 conv 24 -> 192 at 112: 112^2 x 192 x 216 = 520,224,768; projection 192 -> 32
at 56: 56^2 x 192 x 32 = 19,267,584. Block 8 (MBConv 96 -> 96, k5, expand 8, at 14): 196 x 96 x 768 = 14,450,688
(expand) + 196 x 768 x 25 = 3,763,200 (depthwise) + 14,450,688 (project). Width 1.2 (L) rounds the filters 32,
24, 32, 48, 96, 144, 192, 1280 to 40, 32, 40, 56, 112, 176, 232, 1536 (nearest multiple of 8, not below 90 %),
depth 1.4 the repeats 1, 2, 4, 5, 4, 2 to 2, 3, 6, 7, 6, 3.
"""

from __future__ import annotations

import math
import os
import warnings

import pytest

from rooflinekit.counters import count_network
from rooflinekit.errors import SpecError, UnknownNameError
from rooflinekit.networks import (
    QUTIBENCH_NETWORKS, efficientnet_edgetpu, googlenet_v1, mobilenet_v1, qutibench_network, resnet50_v1, resnet50_v15,
)


def _counted(net):
    """Count with unsupported ops an error and every warning raised."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return count_network(net, strict=True)


def _macs(layers, prefix: str) -> int:
    return int(layers[layers.name.str.startswith(prefix)]["macs"].sum())


def _weights(net) -> int:
    """Conv and fc weight elements (first weight tensor), without biases and batch norm."""
    return sum(math.prod(layer.weights[0].shape) for layer in net.layers
               if layer.op in ("conv", "fully_connected"))


def test_resnet50_v1_macs_per_stage_by_hand():
    layers = _counted(resnet50_v1()).layers
    assert _macs(layers, "conv1") == 118_013_952
    assert _macs(layers, "layer1.") == 231_211_008 + 2 * 218_365_952
    assert _macs(layers, "layer2.") == 295_436_288 + 3 * 218_365_952
    assert _macs(layers, "layer3.") == 295_436_288 + 5 * 218_365_952
    assert _macs(layers, "layer4.") == 295_436_288 + 2 * 218_365_952
    assert _macs(layers, "head.fc") == 2_048_000
    assert int(layers["macs"].sum()) == 3_857_973_248
    assert round(2 * int(layers["macs"].sum()) / 1e9, 2) == 7.72  # QuTiBench's GOP/frame


def test_resnet50_v1_parameters_as_published():
    assert _counted(resnet50_v1()).totals["params"] == 25_557_032
    assert _counted(resnet50_v1(fold_bn=True)).totals["params"] == 25_557_032 - 26_560


def test_resnet50_v1_strides_its_first_1x1():
    net = resnet50_v1()
    strided = sorted(layer.name for layer in net.layers if layer.op == "conv" and layer.attrs["strides"] == (2, 2))
    assert strided == ["conv1"] + [f"layer{s}.0.{c}" for s in (2, 3, 4) for c in ("conv1", "downsample")]


def test_resnet50_v1_is_v15_minus_the_moved_stride():
    pytest.importorskip("onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the imported model's own import notes, not this builder's
        v15 = count_network(resnet50_v15()).totals
    v1 = _counted(resnet50_v1()).totals
    assert v1["macs"] == v15["macs"] - 3 * 77_070_336
    assert v1["params"] == v15["params"]


def test_mobilenet_v1_matches_the_paper():
    net = mobilenet_v1()
    layers = _counted(net).layers
    macs = int(layers["macs"].sum())
    assert macs == 568_740_352
    assert round(macs / 1e6) == 569  # Table 8 / Table 6: 569 M mult-adds
    assert _weights(net) == 4_209_088
    assert round(_weights(net) / 1e6, 1) == 4.2
    # Table 2's shares of mult-adds and parameters (its "Conv 3x3" mult-add share, 1.19 %, is a misprint for 1.91 %:
    # the four rows would not sum to 100 %)
    pointwise = layers.name.str.endswith(".pw")
    depthwise = layers.name.str.endswith(".dw")
    fc = layers.name == "head.fc"
    assert round(100 * int(layers[pointwise].macs.sum()) / macs, 2) == 94.86
    assert round(100 * int(layers[depthwise].macs.sum()) / macs, 2) == 3.06
    assert round(100 * int(layers[fc].macs.sum()) / macs, 2) == 0.18
    pw_weights = sum(math.prod(layer.weights[0].shape) for layer in net.layers if layer.name.endswith(".pw"))
    assert round(100 * pw_weights / 4_209_088, 2) == 74.59
    assert round(100 * 1_024_000 / 4_209_088, 2) == 24.33
    # with batch-norm scale and shift (2 x 10,944 channels) and the 1000 fc biases
    assert _counted(net).totals["params"] == 4_209_088 + 21_888 + 1000


def test_mobilenet_v1_one_depthwise_separable_block_by_hand():
    # block 7: 512 -> 512 on 14x14; eq. 5: D_K^2 M D_F^2 + M N D_F^2
    layers = _counted(mobilenet_v1()).layers.set_index("name")
    assert layers.loc["block7.dw", "macs"] == 3 * 3 * 512 * 14 * 14 == 903_168
    assert layers.loc["block7.pw", "macs"] == 512 * 512 * 14 * 14 == 51_380_224
    assert layers.loc["block7.dw", "params"] == 9 * 512  # one 3x3 kernel per channel
    assert layers.loc["block7.dw.bn", "params"] == 2 * 512  # scale and shift


@pytest.mark.parametrize("width, resolution, mult_adds_m, params_m", [
    (0.75, 224, 325, 2.6), (0.5, 224, 149, 1.3), (0.25, 224, 41, 0.5),  # Table 6
    (1.0, 192, 418, 4.2), (1.0, 160, 290, 4.2), (1.0, 128, 186, 4.2),  # Table 7
])
def test_mobilenet_v1_width_and_resolution_multipliers(width, resolution, mult_adds_m, params_m):
    net = mobilenet_v1(width=width, resolution=resolution)
    macs = int(_counted(net).layers["macs"].sum())
    assert abs(macs / 1e6 - mult_adds_m) < 1  # the tables round (569 up from 568.7) or truncate (290 from 290.7)
    assert round(_weights(net) / 1e6, 1) == params_m
    assert net.name == f"MobileNet-v1-{width}-{resolution}"


# Szegedy et al. 2014, Table 1, ops column (M); conv1 (34 M) and 5a (54 M) left out: Table 1's conv1 figure
# disagrees with its own shape (7x7x3 -> 64 at 112^2: 118,013,952) and 5a's with its own widths at 7x7 (51.1 M);
# the onnx light model's weights confirm those widths (test below)
GOOGLENET_TABLE1_OPS_M = {"conv2": 360, "inception_3a": 128, "inception_3b": 304, "inception_4a": 73,
                          "inception_4b": 88, "inception_4c": 100, "inception_4d": 119, "inception_4e": 170,
                          "inception_5b": 71, "head.fc": 1}


def test_googlenet_v1_matches_table1():
    layers = _counted(googlenet_v1()).layers
    for prefix, ops_m in GOOGLENET_TABLE1_OPS_M.items():
        assert abs(_macs(layers, prefix) / 1e6 - ops_m) < 1, prefix
    assert _macs(layers, "inception_3a.") == 784 * (192 * 208 + 9 * 96 * 128 + 25 * 16 * 32) == 128_049_152
    assert _macs(layers, "conv1") == 118_013_952
    assert int(layers["macs"].sum()) == 1_582_671_872


def test_googlenet_v1_feature_maps_follow_table1():
    net = googlenet_v1()
    sides = {layer.name: layer.outputs[0][2] for layer in net.layers if layer.op != "flatten" and
             len(layer.outputs[0]) == 4}
    assert [sides[n] for n in ("conv1", "pool1", "pool2", "pool3", "pool4", "pool5")] == [112, 56, 28, 14, 7, 1]
    assert net.layers[-4].outputs[0][1] == 1024  # 5b's concat, before the average pool


def test_googlenet_v1_against_the_onnx_light_inception_v1():
    """The ONNX model zoo's BVLC GoogLeNet: same weights; its floor-rounded pooling gives maps of 55, 27, 13, 6
    where the paper has 56, 28, 14, 7, so its conv MACs are ours scaled by (S_onnx / S)^2 per map."""
    onnx = pytest.importorskip("onnx")
    from rooflinekit.importers import load_model

    path = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light", "light_inception_v1.onnx")
    if not os.path.isfile(path):
        pytest.skip("this onnx has no light inception_v1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        light = load_model(path)
        imported = count_network(light)
    ours = _counted(googlenet_v1())
    assert ours.totals["params"] == imported.totals["params"] == 6_998_552
    paper_side = {112: 112, 55: 56, 27: 28, 13: 14, 6: 7}
    scaled = 0
    for layer, macs in zip(light.layers, imported.layers["macs"]):
        if layer.op == "conv":
            side = layer.outputs[0][2]
            scaled += int(macs) // side ** 2 * paper_side[side] ** 2
        else:
            scaled += int(macs)
    assert ours.totals["macs"] == scaled


def test_efficientnet_edgetpu_blocks_by_hand():
    layers = _counted(efficientnet_edgetpu("S")).layers.set_index("name")
    assert layers.loc["blocks.1.expand", "macs"] == 520_224_768
    assert layers.loc["blocks.1.project", "macs"] == 19_267_584
    assert layers.loc["blocks.8.expand", "macs"] == 14_450_688
    assert layers.loc["blocks.8.dw", "macs"] == 3_763_200
    assert layers.loc["blocks.8.project", "macs"] == 14_450_688
    assert "blocks.8.add" in layers.index and "blocks.7.add" not in layers.index  # stride 2 and 48 -> 96: no skip
    assert "blocks.0.add" not in layers.index  # noskip


def test_efficientnet_edgetpu_l_scaling_by_hand():
    net = efficientnet_edgetpu("L")
    shapes = {layer.name: layer.outputs[0] for layer in net.layers}
    assert shapes["stem"][1:] == (40, 150, 150) and shapes["head.conv"][1] == 1536
    projects = [name for name in shapes if name.endswith(".project")]
    assert len(projects) == 2 + 3 + 6 + 7 + 6 + 3
    group_ends = (1, 4, 10, 17, 23, 26)
    assert [shapes[f"blocks.{i}.project"][1] for i in group_ends] == [32, 40, 56, 112, 176, 232]
    assert len([layer for layer in efficientnet_edgetpu("M").layers if layer.name.endswith(".project")]) == 24


# QuTiBench (cnn_topologies_compute_memory_requirements.csv, history/GOPperNN.csv): GOP/frame and M weights, rounded
# to 2-4 significant digits; its op convention (2 x MACs, or all ops) is not stated and the two differ by 0.5 %.
# Tolerances: weights within half a unit of the last digit (0.05 M); ops within 1.5 % (M's 7.4 is 2 digits, +-0.7 %,
# plus the convention's 0.5 %, rounded up).
@pytest.mark.parametrize("size, gop, weights_m", [("S", 4.7, 5.4), ("M", 7.4, 6.9), ("L", 19.38, 10.6)])
def test_efficientnet_edgetpu_against_qutibench(size, gop, weights_m):
    totals = _counted(efficientnet_edgetpu(size)).totals
    assert abs(2 * totals["macs"] / 1e9 - gop) / gop < 0.015
    assert abs(totals["params"] / 1e6 - weights_m) <= 0.05


@pytest.mark.parametrize("name, expected", [
    ("ResNet-50", "ResNet-50-v1"), ("GoogLeNetv1", "GoogLeNet-v1"), ("MobileNetv1", "MobileNet-v1-1.0-224"),
    ("EfficientNet-S", "EfficientNet-EdgeTPU-S"), ("EfficientNet-M", "EfficientNet-EdgeTPU-M"),
    ("EfficientNet-L", "EfficientNet-EdgeTPU-L"),
])
def test_qutibench_names_build_their_networks(name, expected):
    net = qutibench_network(name)
    assert net.name == expected and net.precision.label == "int8" and net.task == "ImageNet classification"
    assert net.source and qutibench_network(f" {name.lower()} ", precision="fp16").precision.label == "fp16"
    one = _counted(net).totals["macs"]
    three = _counted(qutibench_network(name, batch=3)).totals
    assert three["macs"] == 3 * one
    assert three["params"] == _counted(net).totals["params"]  # weights do not scale with the batch
    assert not [layer for layer in net.layers if layer.op == "batch_norm"]  # folded, as the devices' compilers do
    assert _counted(qutibench_network(name, fold_bn=False)).totals["params"] \
        == _counted(QUTIBENCH_NETWORKS[name]()).totals["params"]  # the builders' own default: batch norm as layers


def test_qutibench_resnet50_folds_its_batch_norm_into_conv_biases():
    # 53 batch norms (the stem, 3 per bottleneck x 16, 4 downsampling shortcuts) over 26,560 channels: folded, each
    # channel keeps one bias of its scale and shift, so the parameters drop by 26,560 from 25,557,032
    assert _counted(qutibench_network("ResNet-50")).totals["params"] == 25_557_032 - 26_560


def test_unknown_qutibench_name_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="known: ResNet-50, GoogLeNetv1, MobileNetv1, EfficientNet-S"):
        qutibench_network("VGG-16")
    with pytest.raises(UnknownNameError, match="closest: EfficientNet-S"):
        qutibench_network("EfficientNet-XS")


@pytest.mark.parametrize("build, match", [
    (lambda: resnet50_v1(batch=0), "batch must be a positive integer"),
    (lambda: googlenet_v1(batch=True), "batch must be a positive integer"),
    (lambda: mobilenet_v1(resolution=16), "resolution must be an integer of at least 32"),
    (lambda: mobilenet_v1(width=0.0), r"width must be a number with int\(32 \* width\) >= 1"),
    (lambda: efficientnet_edgetpu("XL"), "size must be one of S, M, L"),
])
def test_bad_arguments_raise_spec_errors(build, match):
    with pytest.raises(SpecError, match=match):
        build()
