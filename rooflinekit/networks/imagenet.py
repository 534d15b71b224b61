"""The ImageNet classifiers of the QuTiBench measurements, built layer by layer.

QuTiBench (Blott et al. 2019) measured these networks on FPGA DPUs, an Edge TPU, a Jetson TX2 and others, and
publishes them only as totals (ops per frame, weights). The builders below give their layers, so that per-layer
models can be fitted to those measurements. Per image at 224x224 (EfficientNet-EdgeTPU S, M, L at 224, 240 and 300),
batch norm unfolded (parameters counted as published):

==============  ======================================  ===============  ===========  =====================
QuTiBench name  builder                                 MACs             parameters   QuTiBench GOP, M wts
==============  ======================================  ===============  ===========  =====================
ResNet-50       :func:`resnet50_v1`                     3,857,973,248    25,557,032   7.72, 25.5
GoogLeNetv1     :func:`googlenet_v1`                    1,582,671,872    6,998,552    3.13, 6
MobileNetv1     :func:`mobilenet_v1`                    568,740,352      4,231,976    1.14, 4.2
EfficientNet-S  :func:`efficientnet_edgetpu` ``"S"``    2,352,309,120    5,439,673    4.7, 5.4
EfficientNet-M  :func:`efficientnet_edgetpu` ``"M"``    3,660,285,568    6,900,777    7.4, 6.9
EfficientNet-L  :func:`efficientnet_edgetpu` ``"L"``    9,661,895,584    10,591,249   19.38, 10.6
==============  ======================================  ===============  ===========  =====================

QuTiBench counts 1 MAC = 2 ops and weights only. :func:`qutibench_network` (and :data:`QUTIBENCH_NETWORKS`) map
its network names to the builders.

Layers are channels-first ``(B, C, H, W)``. Convolutions are followed by ``batch_norm`` (scale and shift per
channel, 2 parameters per channel) unless ``fold_bn`` folds it into a conv bias (inference graphs: 1 parameter per
channel); GoogLeNet has no batch norm (its convs carry biases). Dropout (the identity at inference) is left out.
"""

from __future__ import annotations

import difflib
import math
from functools import lru_cache, partial
from typing import Callable

from rooflinekit.descriptors import LayerNetwork, Precision
from rooflinekit.errors import SpecError, UnknownNameError
from rooflinekit.networks.mlperf import RESNET_STAGES, LayerGraph

IMAGENET_CLASSES = 1000
TASK = "ImageNet classification"


def _check_batch(batch: int) -> None:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise SpecError(f"batch must be a positive integer, got {batch!r}")


def _pool(g: LayerGraph, name: str, src: str, op: str, kernel: int, stride: int, pad: int = 0,
          ceil_mode: bool = False) -> str:
    """A ``max_pool`` or ``avg_pool``; output side ``floor((S + 2p - k) / s) + 1`` (``ceil`` with ``ceil_mode``,
    Caffe's rounding)."""
    b, c, *spatial = g.shapes[src]
    rounding = math.ceil if ceil_mode else math.floor
    out = (b, c, *[rounding((s + 2 * pad - kernel) / stride) + 1 for s in spatial])
    return g.add(name, op, (src,), out, kernel_shape=(kernel, kernel), strides=(stride, stride),
                 pads=(pad,) * 4, ceil_mode=ceil_mode)


def _classifier(g: LayerGraph, src: str, classes: int, softmax: bool) -> None:
    """Global average pooling, flatten, a fully connected layer with bias to ``classes`` (``C * classes`` MACs),
    and a softmax when the network's definition ends with one."""
    b, c, *_ = g.shapes[src]
    x = g.add("head.pool", "global_avg_pool", (src,), (b, c, 1, 1))
    x = g.add("head.flatten", "flatten", (x,), (b, c))
    x = g.add("head.fc", "fully_connected", (x,), (b, classes), ((classes, c), (classes,)))
    if softmax:
        g.add("head.softmax", "softmax", (x,), (b, classes), axis=-1)


def _network(g: LayerGraph, name: str, batch: int, precision: str, source: str) -> LayerNetwork:
    return LayerNetwork(name=name, task=TASK, batch=batch, precision=Precision.parse(precision),
                        layers=tuple(g.layers), source=source)


# --- ResNet-50 v1 --------------------------------------------------------------------------------------------------

def _bottleneck_v1(g: LayerGraph, name: str, src: str, planes: int, stride: int, downsample: bool) -> str:
    """A ResNet v1 bottleneck: 1x1 (stride ``stride``) -> 3x3 -> 1x1 to ``4 * planes``, plus the shortcut (a strided
    1x1 conv in the first block of a stage), add, relu."""
    y = g.conv(f"{name}.conv1", src, planes, 1, stride, relu=True)
    y = g.conv(f"{name}.conv2", y, planes, 3, relu=True)
    y = g.conv(f"{name}.conv3", y, 4 * planes, 1)
    shortcut = g.conv(f"{name}.downsample", src, 4 * planes, 1, stride) if downsample else src
    y = g.add(f"{name}.add", "add", (y, shortcut), g.shapes[y])
    return g.add(f"{name}.relu", "relu", (y,), g.shapes[y])


@lru_cache(maxsize=16)
def resnet50_v1(batch: int = 1, precision: str = "int8", fold_bn: bool = False) -> LayerNetwork:
    """ResNet-50 **v1** at 224x224 (He et al. 2016, Table 1), as the Caffe model QuTiBench's DPUs ran.

    v1 puts the stride of a downsampling bottleneck (first block of stages 2-4) on its first 1x1 conv, where v1.5
    (:func:`rooflinekit.networks.mlperf.resnet50_v15`) puts it on the 3x3 conv. The weights are the same; v1 runs
    that 1x1 conv at the block's output side ``H`` instead of ``2H``, saving ``C_in * planes * 3 H^2`` MACs per
    downsampling block (``77,070,336`` in each of the three), ``231,211,008`` in all.

    Layers: conv 7x7/2 64 + batch norm + relu, max pool 3x3/2 (pad 1), 3-4-6-3 bottlenecks of ``planes`` 64, 128,
    256, 512 (output ``4 * planes``), global average pooling, fc 2048 -> 1000 with bias, softmax.

    Parameters
    ----------
    batch : int
        Images per batch (the leading input dim).
    precision : str
        Network precision (QuTiBench's DPUs run int8).
    fold_bn : bool
        False (default): bias-free convs followed by ``batch_norm`` layers (the published parameter count);
        True: batch norm folded into conv biases (one parameter per channel instead of two).

    Returns
    -------
    LayerNetwork
        Named ``ResNet-50-v1``; 3,857,973,248 MACs (7.72 GOP at 2 ops per MAC) and 25,557,032 parameters per image
        (25,530,472 with ``fold_bn``).
    """
    _check_batch(batch)
    g = LayerGraph(batch, fold_bn)
    g.shapes["input"] = (batch, 3, 224, 224)
    x = g.conv("conv1", "input", 64, 7, 2, relu=True)
    x = _pool(g, "maxpool", x, "max_pool", 3, 2, pad=1)
    for stage, (planes, blocks, stride) in enumerate(RESNET_STAGES, start=1):
        for block in range(blocks):
            x = _bottleneck_v1(g, f"layer{stage}.{block}", x, planes, stride if block == 0 else 1,
                               downsample=block == 0)
    _classifier(g, x, IMAGENET_CLASSES, softmax=True)
    return _network(g, "ResNet-50-v1", batch, precision,
                    "He et al., Deep Residual Learning for Image Recognition (CVPR 2016), Table 1, ResNet-50 v1 "
                    "(stride on the first 1x1 conv of a downsampling bottleneck, as the original Caffe model), "
                    "224x224, built layer by layer by rooflinekit.networks.imagenet; batch norm "
                    + ("folded into conv biases" if fold_bn else "as batch_norm layers"))


# --- GoogLeNet (Inception v1) --------------------------------------------------------------------------------------

GOOGLENET_INCEPTIONS: tuple[tuple[str, int, int, int, int, int, int], ...] = (
    ("3a", 64, 96, 128, 16, 32, 32), ("3b", 128, 128, 192, 32, 96, 64),
    ("4a", 192, 96, 208, 16, 48, 64), ("4b", 160, 112, 224, 24, 64, 64), ("4c", 128, 128, 256, 24, 64, 64),
    ("4d", 112, 144, 288, 32, 64, 64), ("4e", 256, 160, 320, 32, 128, 128),
    ("5a", 256, 160, 320, 32, 128, 128), ("5b", 384, 192, 384, 48, 128, 128),
)
"""Inception modules of Szegedy et al. 2014, Table 1: (name, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool
proj)."""
LRN_SIZE = 5
"""Channels in GoogLeNet's local response normalization window (BVLC GoogLeNet ``local_size``)."""


def _inception(g: LayerGraph, name: str, src: str, n1: int, n3r: int, n3: int, n5r: int, n5: int, proj: int) -> str:
    """An Inception module: 1x1; 1x1 -> 3x3; 1x1 -> 5x5; max pool 3x3/1 -> 1x1; each conv with bias and relu; the
    four branches concatenated over channels. MACs ``H W (C (n1 + n3r + n5r + proj) + 9 n3r n3 + 25 n5r n5)``."""
    b1 = g.conv(f"{name}.1x1", src, n1, 1, relu=True)
    b2 = g.conv(f"{name}.3x3", g.conv(f"{name}.3x3_reduce", src, n3r, 1, relu=True), n3, 3, relu=True)
    b3 = g.conv(f"{name}.5x5", g.conv(f"{name}.5x5_reduce", src, n5r, 1, relu=True), n5, 5, relu=True)
    b4 = g.conv(f"{name}.pool_proj", _pool(g, f"{name}.pool", src, "max_pool", 3, 1, pad=1), proj, 1, relu=True)
    b, _, h, w = g.shapes[b1]
    return g.add(f"{name}.concat", "concat", (b1, b2, b3, b4), (b, n1 + n3 + n5 + proj, h, w), axis=1)


@lru_cache(maxsize=16)
def googlenet_v1(batch: int = 1, precision: str = "int8") -> LayerNetwork:
    """GoogLeNet (Inception v1) at 224x224, from Szegedy et al. 2014, Table 1 and Figure 3, as the BVLC Caffe model.

    Layers: conv 7x7/2 64, max pool 3x3/2, LRN, conv 1x1 64, conv 3x3 192, LRN, max pool 3x3/2, Inception 3a-3b,
    max pool 3x3/2, 4a-4e, max pool 3x3/2, 5a-5b (:data:`GOOGLENET_INCEPTIONS`), average pool 7x7, fc 1024 -> 1000,
    softmax; every conv has a bias and a relu (no batch norm). Pooling rounds up (Caffe), so the feature maps are
    112, 56, 28, 14 and 7 pixels, as in Table 1. The auxiliary classifiers (training only) and dropout are left out.

    Built from the paper rather than imported from the onnx package's light ``inception_v1`` (the ONNX model zoo's
    conversion of the BVLC model): that conversion pools with floor rounding and no padding, so its maps are 55,
    27, 13 and 6 pixels (1,431,556,352 MACs) where the paper and the Caffe model have 56, 28, 14 and 7. Its
    weights are the same (6,998,552 parameters).

    Table 1's ops column matches the Inception modules and conv2 to its rounding, but gives 34 M for conv1, whose
    shape (7x7x3 -> 64 at 112x112) gives 118,013,952 MACs; its parameter column sums to 6.8 M without biases.

    Parameters
    ----------
    batch : int
        Images per batch (the leading input dim).
    precision : str
        Network precision (QuTiBench's DPUs run int8).

    Returns
    -------
    LayerNetwork
        Named ``GoogLeNet-v1``; 1,582,671,872 MACs (3.17 GOP; QuTiBench gives 3.13) and 6,998,552 parameters per
        image (the fc layer holds 1,025,000 of them; QuTiBench's 6 M weights match the other 5,973,552).
    """
    _check_batch(batch)
    g = LayerGraph(batch, fold_bn=True)
    g.shapes["input"] = (batch, 3, 224, 224)
    x = g.conv("conv1", "input", 64, 7, 2, relu=True)
    x = _pool(g, "pool1", x, "max_pool", 3, 2, ceil_mode=True)
    x = g.add("pool1.lrn", "lrn", (x,), g.shapes[x], size=LRN_SIZE)
    x = g.conv("conv2.3x3_reduce", x, 64, 1, relu=True)
    x = g.conv("conv2.3x3", x, 192, 3, relu=True)
    x = g.add("conv2.lrn", "lrn", (x,), g.shapes[x], size=LRN_SIZE)
    x = _pool(g, "pool2", x, "max_pool", 3, 2, ceil_mode=True)
    for name, *widths in GOOGLENET_INCEPTIONS:
        if name in ("4a", "5a"):
            x = _pool(g, f"pool{int(name[0]) - 1}", x, "max_pool", 3, 2, ceil_mode=True)
        x = _inception(g, f"inception_{name}", x, *widths)
    b, c, *_ = g.shapes[x]
    x = _pool(g, "pool5", x, "avg_pool", 7, 1)
    x = g.add("head.flatten", "flatten", (x,), (b, c))
    x = g.add("head.fc", "fully_connected", (x,), (b, IMAGENET_CLASSES), ((IMAGENET_CLASSES, c), (IMAGENET_CLASSES,)))
    g.add("head.softmax", "softmax", (x,), (b, IMAGENET_CLASSES), axis=-1)
    return _network(g, "GoogLeNet-v1", batch, precision,
                    "Szegedy et al., Going Deeper with Convolutions (CVPR 2015, arXiv 1409.4842), Table 1 and "
                    "Figure 3 (GoogLeNet, BVLC Caffe model: LRN after pool1 and conv2, ceil-mode pooling), 224x224, "
                    "built layer by layer by rooflinekit.networks.imagenet")


# --- MobileNet v1 --------------------------------------------------------------------------------------------------

MOBILENET_V1_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)
"""Depthwise-separable blocks of Howard et al. 2017, Table 1: (pointwise output channels, depthwise stride). Table 1
prints stride 2 for the last depthwise conv, but its input and output are both 7x7: the stride is 1."""


@lru_cache(maxsize=16)
def mobilenet_v1(batch: int = 1, precision: str = "int8", width: float = 1.0, resolution: int = 224,
                 fold_bn: bool = False) -> LayerNetwork:
    """MobileNet v1 (Howard et al. 2017, Table 1) with width multiplier ``width`` at ``resolution`` pixels.

    Layers: conv 3x3/2 to 32 channels, then 13 depthwise-separable blocks (:data:`MOBILENET_V1_BLOCKS`: depthwise
    3x3 at stride s, pointwise 1x1), global average pooling, fc 1024 -> 1000 with bias, softmax; every conv is
    followed by batch norm and relu. Channels are ``int(width * C)``; convs pad ``k // 2``, so a stride-2 conv
    outputs ``ceil(S / 2)``. A block on a ``D_F x D_F`` map from ``M`` to ``N`` channels costs
    ``9 M D_F^2 + M N D_F^2`` MACs (the paper's eq. 5).

    Parameters
    ----------
    batch : int
        Images per batch (the leading input dim).
    precision : str
        Network precision.
    width : float
        Width multiplier alpha (the paper's 1.0, 0.75, 0.5, 0.25); any value giving the first conv at least one
        channel (``int(32 * width) >= 1``).
    resolution : int
        Input side in pixels (the paper's 224, 192, 160, 128), at least 32.
    fold_bn : bool
        False (default): ``batch_norm`` layers after bias-free convs; True: batch norm folded into conv biases.

    Returns
    -------
    LayerNetwork
        Named ``MobileNet-v1-{width}-{resolution}``; at the defaults 568,740,352 MACs (the paper's 569 M) and
        4,231,976 parameters: 4,209,088 conv and fc weights (the paper's 4.2 M), 21,888 batch-norm scales and
        shifts and the 1000 fc biases.
    """
    _check_batch(batch)
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 32:
        raise SpecError(f"resolution must be an integer of at least 32 pixels (the network strides 32x), got "
                        f"{resolution!r}")
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not math.isfinite(width) \
            or int(32 * width) < 1:
        raise SpecError(f"width must be a number with int(32 * width) >= 1 (the paper uses 1.0, 0.75, 0.5, 0.25), "
                        f"got {width!r}")
    width = float(width)
    g = LayerGraph(batch, fold_bn)
    g.shapes["input"] = (batch, 3, resolution, resolution)
    x = g.conv("conv1", "input", int(32 * width), 3, 2, relu=True)
    for index, (channels, stride) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        c = g.shapes[x][1]
        x = g.conv(f"block{index}.dw", x, c, 3, stride, groups=c, relu=True)
        x = g.conv(f"block{index}.pw", x, int(channels * width), 1, relu=True)
    _classifier(g, x, IMAGENET_CLASSES, softmax=True)
    return _network(g, f"MobileNet-v1-{width}-{resolution}", batch, precision,
                    f"Howard et al., MobileNets (arXiv 1704.04861), Table 1, width {width}, {resolution}x{resolution}, "
                    "built layer by layer by rooflinekit.networks.imagenet; batch norm "
                    + ("folded into conv biases" if fold_bn else "as batch_norm layers"))


# --- EfficientNet-EdgeTPU ------------------------------------------------------------------------------------------

EDGETPU_BLOCKS: tuple[tuple[int, int, int, int, int, int, bool, bool], ...] = (
    (1, 3, 1, 4, 24, 24, True, False),
    (2, 3, 2, 8, 24, 32, True, True),
    (4, 3, 2, 8, 32, 48, True, True),
    (5, 5, 2, 8, 48, 96, False, True),
    (4, 5, 1, 8, 96, 144, False, True),
    (2, 5, 2, 8, 144, 192, False, True),
)
"""The block arguments of ``efficientnet_edgetpu_builder.py`` (tensorflow/tpu, models/official/efficientnet/edgetpu):
``r1_k3_s11_e4_i24_o24_c1_noskip``, ``r2_k3_s22_e8_i24_o32_c1``, ``r4_k3_s22_e8_i32_o48_c1``,
``r5_k5_s22_e8_i48_o96``, ``r4_k5_s11_e8_i96_o144``, ``r2_k5_s22_e8_i144_o192``, as (repeats, kernel, stride,
expand ratio, input filters, output filters, fused (``c1``), identity skip allowed (no ``noskip``))."""
EDGETPU_SIZES: dict[str, tuple[float, float, int]] = {"S": (1.0, 1.0, 224), "M": (1.0, 1.1, 240), "L": (1.2, 1.4, 300)}
"""(width coefficient, depth coefficient, resolution) per size (``efficientnet_edgetpu_params``)."""
EDGETPU_CLASSES = 1001
"""Classes of the EdgeTPU checkpoints: ImageNet's 1000 and a background label 0."""
EDGETPU_STEM, EDGETPU_HEAD, DEPTH_DIVISOR = 32, 1280, 8


def _round_filters(filters: int, width: float) -> int:
    """``round_filters`` of tensorflow/tpu's ``efficientnet_model.py``: ``filters * width`` to the nearest multiple
    of 8 (at least 8), one multiple up if that lost more than 10 %."""
    scaled = filters * width
    rounded = max(DEPTH_DIVISOR, int(scaled + DEPTH_DIVISOR / 2) // DEPTH_DIVISOR * DEPTH_DIVISOR)
    return int(rounded + DEPTH_DIVISOR if rounded < 0.9 * scaled else rounded)


def _edgetpu_block(g: LayerGraph, name: str, src: str, kernel: int, stride: int, expand: int, in_filters: int,
                   out_filters: int, fused: bool, skip: bool) -> str:
    """One block of tensorflow/tpu's ``efficientnet_model.py``, each conv followed by batch norm, relu except after
    the projection.

    Fused (``MBConvBlockWithoutDepthwise``): conv 3x3, stride 1, to ``in_filters * expand`` channels, then the
    projection conv 1x1 **at stride** ``stride`` to ``out_filters``. MBConv (``MBConvBlock``, no squeeze-excite in
    EdgeTPU): expansion conv 1x1 to ``in_filters * expand``, depthwise ``kernel`` x ``kernel`` at stride ``stride``,
    projection conv 1x1. An identity shortcut is added when ``skip``, the stride is 1 and the channels match.
    ``in_filters`` is the block argument, not the input's channels: the first block expands the 32-channel stem
    to ``24 * 4`` channels.
    """
    expanded = in_filters * expand
    if fused:
        x = g.conv(f"{name}.expand", src, expanded, kernel, relu=True)
        x = g.conv(f"{name}.project", x, out_filters, 1, stride)
    else:
        x = g.conv(f"{name}.expand", src, expanded, 1, relu=True)
        x = g.conv(f"{name}.dw", x, expanded, kernel, stride, groups=expanded, relu=True)
        x = g.conv(f"{name}.project", x, out_filters, 1)
    if skip and stride == 1 and g.shapes[src] == g.shapes[x]:
        x = g.add(f"{name}.add", "add", (x, src), g.shapes[x])
    return x


@lru_cache(maxsize=16)
def efficientnet_edgetpu(size: str = "S", batch: int = 1, precision: str = "int8",
                         fold_bn: bool = False) -> LayerNetwork:
    """EfficientNet-EdgeTPU S, M or L (Google, 2019), as tensorflow/tpu's ``models/official/efficientnet/edgetpu``
    builds it.

    ``efficientnet_edgetpu_builder.py`` gives the block arguments (:data:`EDGETPU_BLOCKS`) and, per size, the width
    and depth coefficients and resolution (:data:`EDGETPU_SIZES`: S 1.0, 1.0, 224; M 1.0, 1.1, 240; L 1.2, 1.4,
    300), relu activations, no squeeze-excite and 1001 classes; ``efficientnet_model.py`` the rest: filters scaled
    by ``round_filters`` (multiples of 8), repeats by ``ceil(depth * r)``, a stem conv 3x3/2 to
    ``round_filters(32)``, the blocks (:func:`_edgetpu_block`; the first of a group strides, the others take its
    output), a head conv 1x1 to ``round_filters(1280)``, global average pooling and a fc layer with bias. Convs
    pad ``k // 2``, the output side of TensorFlow's ``same`` padding (``ceil(S / s)``) at these resolutions.

    The fused blocks stride their 1x1 projection, not their 3x3 conv, so that 3x3 conv runs at the block's input
    side: 2,352,309,120 MACs for S (4.70 GOP; QuTiBench 4.7), where striding the 3x3 conv would give 1,788,732,288
    (3.58 GOP). Against QuTiBench (4.7, 7.4, 19.38 GOP; 5.4, 6.9, 10.6 M weights) the S, M, L builds give 2 x MACs
    +0.1 %, -1.1 %, -0.3 % and parameters +0.7 %, +0.01 %, -0.08 %; its figures are rounded and do not say
    which ops they count: all ops of the batch-norm-folded graph (4.73, 7.35, 19.39 G) are about as close.

    Parameters
    ----------
    size : {"S", "M", "L"}
        Model size (case-insensitive).
    batch : int
        Images per batch (the leading input dim).
    precision : str
        Network precision (the Edge TPU runs int8).
    fold_bn : bool
        False (default): ``batch_norm`` layers after bias-free convs; True: batch norm folded into conv biases.

    Returns
    -------
    LayerNetwork
        Named ``EfficientNet-EdgeTPU-{size}``.

    Raises
    ------
    SpecError
        ``size`` is not S, M or L, or ``batch`` is not a positive integer.
    """
    key = size.strip().upper() if isinstance(size, str) else size
    if key not in EDGETPU_SIZES:
        raise SpecError(f"EfficientNet-EdgeTPU size must be one of {', '.join(EDGETPU_SIZES)}, got {size!r}")
    _check_batch(batch)
    width, depth, resolution = EDGETPU_SIZES[key]
    g = LayerGraph(batch, fold_bn)
    g.shapes["input"] = (batch, 3, resolution, resolution)
    x = g.conv("stem", "input", _round_filters(EDGETPU_STEM, width), 3, 2, relu=True)
    index = 0
    for repeats, kernel, stride, expand, in_filters, out_filters, fused, skip in EDGETPU_BLOCKS:
        in_filters, out_filters = _round_filters(in_filters, width), _round_filters(out_filters, width)
        for repeat in range(math.ceil(depth * repeats)):
            x = _edgetpu_block(g, f"blocks.{index}", x, kernel, stride if repeat == 0 else 1, expand,
                               in_filters if repeat == 0 else out_filters, out_filters, fused, skip)
            index += 1
    x = g.conv("head.conv", x, _round_filters(EDGETPU_HEAD, width), 1, relu=True)
    _classifier(g, x, EDGETPU_CLASSES, softmax=False)
    return _network(g, f"EfficientNet-EdgeTPU-{key}", batch, precision,
                    f"EfficientNet-EdgeTPU-{key} (width {width}, depth {depth}, {resolution}x{resolution}) from "
                    "tensorflow/tpu models/official/efficientnet/edgetpu/efficientnet_edgetpu_builder.py and "
                    "efficientnet_model.py (fused blocks stride their 1x1 projection), built layer by layer by "
                    "rooflinekit.networks.imagenet; batch norm "
                    + ("folded into conv biases" if fold_bn else "as batch_norm layers"))


# --- QuTiBench names -----------------------------------------------------------------------------------------------

QUTIBENCH_NETWORKS: dict[str, Callable[..., LayerNetwork]] = {
    "ResNet-50": resnet50_v1,
    "GoogLeNetv1": googlenet_v1,
    "MobileNetv1": mobilenet_v1,
    "EfficientNet-S": partial(efficientnet_edgetpu, "S"),
    "EfficientNet-M": partial(efficientnet_edgetpu, "M"),
    "EfficientNet-L": partial(efficientnet_edgetpu, "L"),
}
"""QuTiBench's ImageNet network names (its data and the catalog's ``model_specs/qutibench.yaml``) -> builders
taking ``batch`` and ``precision`` (and ``fold_bn``, but GoogLeNet: :data:`WITHOUT_BATCH_NORM`). Its unpruned
(100 %) networks only; CNV and MLP are in the layer catalog."""
WITHOUT_BATCH_NORM = frozenset({"GoogLeNetv1"})
"""QuTiBench networks without batch norm (their builders take no ``fold_bn``)."""


def qutibench_network(name: str, batch: int = 1, precision: str = "int8", fold_bn: bool = True) -> LayerNetwork:
    """The layer-level network of a QuTiBench ImageNet network name, as its devices ran it.

    The compilers of QuTiBench's devices (DNNDK for the DPU, the TFLite converter and Edge TPU compiler, OpenVINO,
    TensorRT) fold an inference batch norm into the conv before it, so by default it is folded here too
    (``fold_bn``); the builders' own default keeps it as layers, as the published parameter counts do.

    Parameters
    ----------
    name : str
        A key of :data:`QUTIBENCH_NETWORKS` (``"ResNet-50"``, ``"GoogLeNetv1"``, ``"MobileNetv1"``,
        ``"EfficientNet-S"``, ``"EfficientNet-M"``, ``"EfficientNet-L"``); case and surrounding spaces are ignored.
    batch : int
        Images per batch.
    precision : str
        Network precision (QuTiBench's measurements are mostly int8).
    fold_bn : bool
        True (default): batch norm folded into conv biases; False: as ``batch_norm`` layers. No effect on the
        networks without batch norm (:data:`WITHOUT_BATCH_NORM`).

    Returns
    -------
    LayerNetwork

    Raises
    ------
    UnknownNameError
        ``name`` is not one of them; the message lists them.
    """
    keys = {key.lower(): key for key in QUTIBENCH_NETWORKS}
    key = keys.get(name.strip().lower()) if isinstance(name, str) else None
    if key is None:
        close = difflib.get_close_matches(str(name), list(QUTIBENCH_NETWORKS), n=3)
        hint = f" (closest: {', '.join(close)})" if close else ""
        raise UnknownNameError(f"no layer-level QuTiBench network {name!r}{hint}; known: "
                               f"{', '.join(QUTIBENCH_NETWORKS)}", name=str(name), kind="QuTiBench network",
                               suggestions=close)
    options = {} if key in WITHOUT_BATCH_NORM else {"fold_bn": fold_bn}
    return QUTIBENCH_NETWORKS[key](batch=batch, precision=precision, **options)
