"""MLPerf Inference reference networks, checked against published and hand-derived counts.

- ResNet-50 v1.5 (torchvision ``resnet50``): 25,557,032 parameters and 4.09 G multiply-accumulates per 224x224
  image, as published for torchvision's model (v1 strides the first 1x1 conv and has ~3.86 GMACs).
- BERT-Large SQuAD at 384 tokens (L 24, H 1024, F 4096): per block the projections ``S (4 H^2 + 2 H F)``
  = 4,831,838,208 MACs and the attention ``2 S^2 H`` = 301,989,888; with the span head ``2 S H`` = 786,432:
  24 x 5,133,828,096 + 786,432 = 123,212,660,736.
- RetinaNet (MLPerf ``retinanet``: torchvision RetinaNet, ResNeXt-50 32x4d FPN, 264 classes, 800x800). Published
  figures checked through the builder's knobs: torchvision's ``retinanet_resnet50_fpn`` (COCO, 91 classes) has
  34,014,999 parameters (torchvision model docs, "num_params"; its FrozenBatchNorm2d keeps the 53,120 batch-norm
  scales and shifts of ResNet-50 as buffers, so the unfolded graph counts 34,014,999 + 53,120); torchvision's
  ``resnext50_32x4d`` has 25,028,904 parameters and 4.23 GFLOPS (= G multiply-accumulates, at 224x224), of which
  the 2048 -> 1000 classifier holds 2,049,000 parameters and 2,048,000 MACs. By hand, the MLPerf model:
  FPN = 1x1 laterals (512 + 1024 + 2048) x 256 + 3 x 256 = 918,272, three 3x3 outputs and P6, P7 5 x (9 x 256^2 +
  256) = 2,950,400; heads = 2 x 4 x (9 x 256^2 + 256) + (9 x 256 x 2376 + 2376) + (9 x 256 x 36 + 36) = 10,280,300
  (A x K = 9 x 264 = 2376 class logits per position, shared over the levels); with the backbone
  25,028,904 - 2,049,000 = 22,979,904 that is 37,128,876. Head MACs at 800x800: levels 100, 50, 25, 13, 7 give
  13,343 positions x (8 x 9 x 256^2 + 9 x 256 x (2376 + 36)) = 13,343 x 10,275,840 = 137,110,533,120.
- 3D-UNet (MLPerf ``3d-unet``, KiTS19; mlcommons/training ``Unet3D(1, 3, instancenorm, relu)``, filters 32, 64,
  128, 256, 320) on a 128^3 patch, by hand: conv 3x3x3 without bias 27 C_in C_out parameters, instance norm 2 C,
  transposed conv 2x2x2 8 C_in C_out + C_out. Input block 864 + 27,648 + 2 x 64 = 28,640; down blocks
  (32->64) 166,144, (64->128) 664,064, (128->256) 2,655,232, (256->320) 4,977,920; bottleneck 5,530,880; up blocks
  (320->320) 9,115,200, (320->256) 5,965,056, (256->128) 1,589,888, (128->64) 397,632, (64->32) 99,488; output
  1x1x1 conv 32 x 3 + 3 = 99: 31,190,243 parameters. Transposed-conv MACs (input elements x C_out x 8):
  4^3 x 320 x 320 x 8 + 8^3 x 320 x 256 x 8 + 16^3 x 256 x 128 x 8 + 32^3 x 128 x 64 x 8 + 64^3 x 64 x 32 x 8 =
  7,904,165,888; the first conv (1 -> 32 at 128^3): 128^3 x 27 x 32 = 1,811,939,328.
"""

from __future__ import annotations

import warnings

import pytest

from rooflinekit.counters import count_network
from rooflinekit.errors import SpecError, UnknownNameError
from rooflinekit.networks.mlperf import mlperf_network, retinanet, unet3d

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


def _part(layers, prefix: str, column: str) -> int:
    return int(layers[layers.name.str.startswith(prefix)][column].sum())


def test_retinanet_matches_torchvision_published_counts():
    # torchvision retinanet_resnet50_fpn (91 classes): 34,014,999 + the 53,120 frozen batch-norm affine values
    resnet50_coco = count_network(retinanet(classes=91, groups=1, width_per_group=64, fold_bn=False))
    assert resnet50_coco.totals["params"] == 34_014_999 + 53_120
    # torchvision resnext50_32x4d at 224x224 without its classifier: 25,028,904 - 2,049,000 params, 4.23 G MACs
    small = count_network(retinanet(image_size=224, fold_bn=False)).layers
    assert _part(small, "backbone.", "params") == 25_028_904 - 2_049_000
    assert round((_part(small, "backbone.", "macs") + 2_048_000) / 1e9, 2) == 4.23
    # and the ResNet-50 backbone at 224 gives torchvision resnet50's 4,089,184,256 MACs with its classifier
    small50 = count_network(retinanet(image_size=224, groups=1, width_per_group=64)).layers
    assert _part(small50, "backbone.", "macs") + 2_048_000 == 4_089_184_256


def test_mlperf_retinanet_hand_counts():
    net = mlperf_network("retinanet")
    assert net.name == "RetinaNet-ResNeXt50-FPN-800" and net.precision.label == "int8"
    unfolded = count_network(retinanet(fold_bn=False))
    assert unfolded.totals["params"] == 22_979_904 + 918_272 + 2_950_400 + 10_280_300 == 37_128_876
    layers = count_network(net).layers
    assert _part(layers, "head.", "macs") == 13_343 * 10_275_840 == 137_110_533_120
    assert _part(layers, "head.", "params") == 10_280_300
    assert _part(layers, "fpn.", "params") == 918_272 + 2_950_400
    # the five pyramid levels at 800x800: 100, 50, 25, 13, 7
    sides = [layer.outputs[0][2] for layer in net.layers if layer.name.startswith("head.cls.out.p")]
    assert sides == [100, 50, 25, 13, 7]
    concat = next(layer for layer in net.layers if layer.name == "head.cls.concat")
    assert concat.outputs[0] == (1, 13_343 * 9, 264)
    # batch scales the arithmetic, not the weights
    assert count_network(net, batch=4).totals["macs"] == 4 * count_network(net).totals["macs"]


def test_retinanet_rejects_bad_sizes():
    with pytest.raises(SpecError, match="image_size must be a multiple of 32"):
        retinanet(image_size=810)
    with pytest.raises(SpecError, match="batch must be a positive integer"):
        retinanet(batch=0)


def test_mlperf_3d_unet_hand_counts():
    net = mlperf_network("3d-unet-99")
    assert net.name == "3D-UNet-KiTS19-128" and net.layers[0].inputs[0] == (1, 1, 128, 128, 128)
    cost = count_network(net)
    assert cost.totals["params"] == (28_640 + 166_144 + 664_064 + 2_655_232 + 4_977_920 + 5_530_880 + 9_115_200
                                     + 5_965_056 + 1_589_888 + 397_632 + 99_488 + 99) == 31_190_243
    layers = cost.layers
    assert int(layers[layers.op == "conv_transpose"].macs.sum()) == 7_904_165_888
    assert int(layers[layers.name == "input_block.conv1"].macs.sum()) == 1_811_939_328
    # the bottleneck runs at 4^3 and the output at 128^3 with 3 classes
    shapes = {layer.name: layer.outputs[0] for layer in net.layers}
    assert shapes["bottleneck.conv2"] == (1, 320, 4, 4, 4) and shapes["output.conv"] == (1, 3, 128, 128, 128)
    with pytest.raises(SpecError, match="patch must be a multiple of 32"):
        unet3d(patch=100)


def test_unknown_benchmarks():
    with pytest.raises(UnknownNameError, match="unknown MLPerf benchmark 'dlrm'"):
        mlperf_network("dlrm")
