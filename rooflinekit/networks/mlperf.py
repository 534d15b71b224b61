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
retinanet           RetinaNet with a ResNeXt-50 32x4d FPN backbone at 800x800, 264 OpenImages classes, built layer by
                    layer (:func:`retinanet`): 201.2 G MACs and 37.1 M parameters per image.
3d-unet-*           3D-UNet (KiTS19) on one 128^3 sliding-window patch, built layer by layer (:func:`unet3d`): 477.3 G
                    MACs and 31.2 M parameters per patch. A benchmark sample is a whole CT volume covered by a
                    case-dependent number of overlapping patches, which the results table does not give.
==================  =============================================================================================
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from rooflinekit.descriptors import Layer, LayerNetwork, Precision, TensorSpec
from rooflinekit.errors import SpecError, UnknownNameError
from rooflinekit.networks.transformer import bundled_config, decode_network, transformer_network

MLPERF_BENCHMARKS = ("resnet50", "retinanet", "3d-unet-99", "3d-unet-99.9", "bert-99", "bert-99.9", "gptj-99",
                     "gptj-99.9", "llama2-70b-99", "llama2-70b-99.9")
"""Benchmarks :func:`mlperf_network` builds (the ``benchmark`` column of the MLPerf Inference results)."""
NOT_BUILT: dict[str, str] = {}
"""MLPerf Inference benchmarks :func:`mlperf_network` does not build (name -> what is missing); none today."""


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



# --- RetinaNet (MLPerf retinanet) --------------------------------------------------------------------------------

RETINANET_CLASSES = 264
"""Classes of MLPerf's RetinaNet: the 264-class OpenImages subset of the MLPerf reference."""
RETINANET_ANCHORS = 9
"""Anchors per feature-map position: 3 sizes x 3 aspect ratios."""
FPN_CHANNELS = 256
RESNET_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
"""(planes, blocks, stride) of the four bottleneck stages of ResNet-50 / ResNeXt-50; output channels 4 x planes."""


class LayerGraph:
    """Layers under construction at batch ``batch`` (channels-first), with the shapes of named tensors: the
    builder the MLPerf and ImageNet network modules share."""

    def __init__(self, batch: int, fold_bn: bool) -> None:
        self.batch = batch
        self.fold_bn = fold_bn
        self.layers: list[Layer] = []
        self.shapes: dict[str, tuple[int, ...]] = {}

    def add(self, name: str, op: str, inputs: tuple[str, ...], out: tuple[int, ...],
            weights: tuple[tuple[int, ...], ...] = (), **attrs: Any) -> str:
        self.layers.append(Layer(name=name, op=op, inputs=tuple(self.shapes[i] for i in inputs), outputs=(out,),
                                 weights=tuple(TensorSpec(shape=w) for w in weights), attrs=attrs))
        self.shapes[name] = out
        return name

    def conv(self, name: str, src: str, channels: int, kernel: int, stride: int = 1, groups: int = 1,
             relu: bool = False, shared: bool = False) -> str:
        """A conv with 'same'-style padding ``kernel // 2``; output side ``floor((S + 2p - k) / s) + 1``.

        Folded batch norm (inference graphs): the conv carries a bias. Unfolded: a bias-free conv and a
        ``batch_norm`` layer (scale and shift per channel). ``shared``: the weights belong to another layer (RetinaNet
        heads share theirs over the pyramid levels), so the layer carries none and says ``bias: true``.
        """
        b, c, *spatial = self.shapes[src]
        pad = kernel // 2
        out = (b, channels, *[(s + 2 * pad - kernel) // stride + 1 for s in spatial])
        weight = (channels, c // groups, kernel, kernel)
        with_bias = self.fold_bn
        weights: tuple[tuple[int, ...], ...] = () if shared else ((weight, (channels,)) if with_bias else (weight,))
        y = self.add(name, "conv", (src,), out, weights, kernel_shape=(kernel, kernel), strides=(stride, stride),
                     pads=(pad,) * 4, groups=groups, bias=with_bias)
        if not self.fold_bn and not shared:
            y = self.add(f"{name}.bn", "batch_norm", (y,), out, ((channels,), (channels,)))
        return self.add(f"{name}.relu", "relu", (y,), out) if relu else y

    def head_conv(self, name: str, src: str, channels: int, relu: bool, shared: bool) -> str:
        """A RetinaNet head conv 3x3 with its own bias (no batch norm in the heads)."""
        b, c, h, w = self.shapes[src]
        out = (b, channels, h, w)
        weights = () if shared else ((channels, c, 3, 3), (channels,))
        y = self.add(name, "conv", (src,), out, weights, kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1),
                     groups=1, bias=True)
        return self.add(f"{name}.relu", "relu", (y,), out) if relu else y

    def fpn_conv(self, name: str, src: str, kernel: int, stride: int = 1) -> str:
        """An FPN conv (256 outputs, bias, no batch norm)."""
        b, c, *spatial = self.shapes[src]
        pad = kernel // 2
        out = (b, FPN_CHANNELS, *[(s + 2 * pad - kernel) // stride + 1 for s in spatial])
        return self.add(name, "conv", (src,), out, ((FPN_CHANNELS, c, kernel, kernel), (FPN_CHANNELS,)),
                        kernel_shape=(kernel, kernel), strides=(stride, stride), pads=(pad,) * 4, groups=1,
                        bias=True)


def _bottleneck(g: LayerGraph, name: str, src: str, planes: int, stride: int, groups: int, width_per_group: int,
                downsample: bool) -> str:
    """A torchvision bottleneck (v1.5: the stride on the 3x3 conv): 1x1 -> 3x3 (groups) -> 1x1, plus the
    shortcut (a strided 1x1 conv in the first block of a stage), add, relu. Width ``planes * width_per_group / 64 *
    groups``; output ``4 * planes`` channels."""
    width = planes * width_per_group // 64 * groups
    y = g.conv(f"{name}.conv1", src, width, 1, relu=True)
    y = g.conv(f"{name}.conv2", y, width, 3, stride, groups, relu=True)
    y = g.conv(f"{name}.conv3", y, 4 * planes, 1)
    shortcut = g.conv(f"{name}.downsample", src, 4 * planes, 1, stride) if downsample else src
    y = g.add(f"{name}.add", "add", (y, shortcut), g.shapes[y])
    return g.add(f"{name}.relu", "relu", (y,), g.shapes[y])


def _backbone(g: LayerGraph, groups: int, width_per_group: int) -> list[str]:
    """Stem and the four stages; returns the outputs of stages 2, 3 and 4 (C3, C4, C5)."""
    x = g.conv("backbone.conv1", "input", 64, 7, 2, relu=True)
    b, c, h, w = g.shapes[x]
    x = g.add("backbone.maxpool", "max_pool", (x,), (b, c, (h + 2 - 3) // 2 + 1, (w + 2 - 3) // 2 + 1),
              kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1))
    outputs = []
    for stage, (planes, blocks, stride) in enumerate(RESNET_STAGES, start=1):
        for block in range(blocks):
            x = _bottleneck(g, f"backbone.layer{stage}.{block}", x, planes, stride if block == 0 else 1, groups,
                            width_per_group, downsample=block == 0)
        outputs.append(x)
    return outputs[1:]


def _fpn(g: LayerGraph, features: list[str]) -> list[str]:
    """torchvision's FPN on C3-C5 (1x1 lateral convs, nearest 2x top-down upsampling and adds, 3x3 output convs)
    and ``LastLevelP6P7(256, 256)``: P6 = conv 3x3/2 of P5, P7 = conv 3x3/2 of relu(P6). Returns P3-P7."""
    laterals = [g.fpn_conv(f"fpn.inner{level}", c, 1) for level, c in zip((3, 4, 5), features)]
    top = laterals[-1]
    merged = {5: top}
    for level, lateral in zip((4, 3), reversed(laterals[:-1])):
        up = g.add(f"fpn.upsample{level}", "resize", (top,), g.shapes[lateral], mode="nearest")
        top = g.add(f"fpn.merge{level}", "add", (lateral, up), g.shapes[lateral])
        merged[level] = top
    levels = [g.fpn_conv(f"fpn.layer{level}", merged[level], 3) for level in (3, 4, 5)]
    p6 = g.fpn_conv("fpn.p6", levels[-1], 3, 2)
    p7 = g.fpn_conv("fpn.p7", g.add("fpn.p6.relu", "relu", (p6,), g.shapes[p6]), 3, 2)
    return levels + [p6, p7]


def _heads(g: LayerGraph, levels: list[str], classes: int) -> None:
    """Classification and box-regression heads (4 x conv 3x3 256 + relu, then conv 3x3 to A*K or A*4) on every
    level, weights held by the P3 layers and shared by the others; each output permuted to (B, H*W*A, K) and
    concatenated over levels (as the reference model's forward)."""
    for branch, outputs in (("cls", RETINANET_ANCHORS * classes), ("bbox", RETINANET_ANCHORS * 4)):
        per_anchor = outputs // RETINANET_ANCHORS
        flat = []
        for index, level in enumerate(levels):
            p = 3 + index
            x = level
            for k in range(4):
                x = g.head_conv(f"head.{branch}.conv{k}.p{p}", x, FPN_CHANNELS, relu=True, shared=index > 0)
            x = g.head_conv(f"head.{branch}.out.p{p}", x, outputs, relu=False, shared=index > 0)
            b, _, h, w = g.shapes[x]
            flat.append(g.add(f"head.{branch}.permute.p{p}", "transpose", (x,),
                              (b, h * w * RETINANET_ANCHORS, per_anchor)))
        b = g.shapes[flat[0]][0]
        g.add(f"head.{branch}.concat", "concat", tuple(flat),
              (b, sum(g.shapes[f][1] for f in flat), per_anchor), axis=1)


@lru_cache(maxsize=16)
def retinanet(batch: int = 1, precision: str = "int8", image_size: int = 800, classes: int = RETINANET_CLASSES,
              groups: int = 32, width_per_group: int = 4, fold_bn: bool = True) -> LayerNetwork:
    """MLPerf's RetinaNet: ResNeXt-50 32x4d + FPN (P3-P7) + RetinaNet heads, 800x800 input, 264 classes.

    The MLPerf reference (``retinanet_resnext50_32x4d_fpn`` of mlcommons/inference) is torchvision's RetinaNet with a
    ResNeXt-50 32x4d backbone, an FPN on C3-C5 with ``LastLevelP6P7(256, 256)`` and 9 anchors per position. Counts
    (per image, ``S`` = image side, ``H_l x W_l`` = level sizes 100, 50, 25, 13, 7 at 800):

    - backbone bottleneck of width ``w = planes * width_per_group / 64 * groups``: MACs ``H W (C_in w + 9 w^2 / g
      + 4 planes w)`` (+ the strided 1x1 shortcut ``H W C_in 4 planes`` in a stage's first block);
    - head, per level: ``H_l W_l (8 * 9 * 256^2 + 9 * 256 * A (K + 4))`` MACs, A = 9 anchors, K = ``classes``;
      the head weights are shared across the 5 levels (the P3 layers carry them; the others carry none).

    Post-processing (sigmoid on the top candidates, box decoding, NMS) is not a layer: submissions run it in a
    plugin or on the host.

    Parameters
    ----------
    batch : int
        Images per batch (the leading input dim).
    precision : str
        Network precision (MLPerf submissions run int8).
    image_size : int
        Input side in pixels (800 in MLPerf).
    classes : int
        Classes K of the classification head (264 in MLPerf; torchvision's COCO model has 91).
    groups, width_per_group : int
        Bottleneck cardinality and width per group: 32 and 4 for ResNeXt-50 32x4d, 1 and 64 for ResNet-50.
    fold_bn : bool
        True (inference graphs, the default): batch norm folded into a conv bias; False: bias-free convs followed by
        ``batch_norm`` layers (the training graph, whose parameter count torchvision publishes).

    Returns
    -------
    LayerNetwork
        Named ``RetinaNet-ResNeXt50-FPN-800`` (other settings get their own name); at the defaults
        201,208,394,752 MACs per image (backbone 53.9 G, FPN 10.2 G, heads 137.1 G) and 37,094,764 parameters
        (37,128,876 with batch norm unfolded).
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise SpecError(f"batch must be a positive integer, got {batch!r}")
    if image_size < 128 or image_size % 32:
        raise SpecError(f"image_size must be a multiple of 32 of at least 128 pixels (the backbone strides 32x), "
                        f"got {image_size!r}")
    g = LayerGraph(batch, fold_bn)
    g.shapes["input"] = (batch, 3, image_size, image_size)
    _heads(g, _fpn(g, _backbone(g, groups, width_per_group)), classes)
    backbone = "ResNeXt50" if (groups, width_per_group) == (32, 4) else f"ResNet50-g{groups}x{width_per_group}" \
        if groups > 1 else "ResNet50"
    name = f"RetinaNet-{backbone}-FPN-{image_size}"
    if classes != RETINANET_CLASSES:
        name += f"-{classes}cls"
    return LayerNetwork(
        name=name, task="object detection (MLPerf, OpenImages 264 classes)", batch=batch,
        precision=Precision.parse(precision), layers=tuple(g.layers),
        source="MLPerf Inference retinanet reference model (mlcommons/inference retinanet_resnext50_32x4d_fpn: "
               "torchvision RetinaNet, ResNeXt-50 32x4d FPN, LastLevelP6P7(256, 256), 9 anchors, 264 classes, "
               "800x800) built layer by layer by rooflinekit.networks.mlperf; batch norm "
               + ("folded into conv biases" if fold_bn else "as batch_norm layers"))



# --- 3D-UNet (MLPerf 3d-unet, KiTS19) ------------------------------------------------------------------------------

UNET_FILTERS = (32, 64, 128, 256, 320)
"""Channels of the 3D-UNet levels (mlcommons/training image_segmentation ``Unet3D``: ``filters``)."""
UNET_PATCH = 128
"""Side of the cubic sub-volume the KiTS19 sliding-window inference feeds the network (128^3 voxels)."""


def _unet_conv(g: LayerGraph, name: str, src: str, channels: int, stride: int = 1) -> str:
    """Conv 3x3x3 (pad 1, no bias) -> instance norm (affine: scale and shift per channel) -> relu."""
    b, c, *spatial = g.shapes[src]
    out = (b, channels, *[(s + 2 - 3) // stride + 1 for s in spatial])
    y = g.add(name, "conv", (src,), out, ((channels, c, 3, 3, 3),), kernel_shape=(3, 3, 3),
              strides=(stride,) * 3, pads=(1,) * 6, groups=1, bias=False)
    y = g.add(f"{name}.norm", "instance_norm", (y,), out, ((channels,), (channels,)))
    return g.add(f"{name}.relu", "relu", (y,), out)


def unet3d(batch: int = 1, precision: str = "int8", patch: int = UNET_PATCH, classes: int = 3) -> LayerNetwork:
    """MLPerf's 3D-UNet (KiTS19 kidney-tumour segmentation) on one ``patch``^3 sub-volume.

    The reference ``Unet3D(1, 3, normalization="instancenorm", activation="relu")`` of mlcommons/training
    (image_segmentation), which the inference benchmark runs: an input block (two conv 3x3x3 + instance norm + relu
    at 32 channels), four downsampling blocks (a stride-2 conv then a conv, to 64, 128, 256, 320 channels), a
    stride-2 bottleneck at 320, five upsampling blocks (transposed conv 2x2x2 stride 2 with bias, concatenation with
    the skip of the same size, two convs) back to 32 channels, and a 1x1x1 conv with bias to ``classes``. Convs
    followed by instance norm carry no bias.

    Counts (``P`` = ``patch``): parameters ``27 C_in C_out`` per conv, ``8 C_in C_out + C_out`` per transposed conv,
    ``2 C`` per instance norm: 31,190,243 in total; MACs per conv ``S^3 27 C_in C_out`` at its output side ``S``.

    A KiTS19 sample is a whole CT volume of varying size, covered by overlapping 128^3 patches (sliding window,
    half overlap, Gaussian-weighted), so the work per MLPerf sample is this network times the case's patch count,
    which the results table does not give.

    Parameters
    ----------
    batch : int
        Sub-volumes per batch.
    precision : str
        Network precision.
    patch : int
        Side of the cubic input in voxels (a multiple of 32: five stride-2 levels).
    classes : int
        Output classes (3: background, kidney, tumour).

    Returns
    -------
    LayerNetwork
        Named ``3D-UNet-KiTS19-128``.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise SpecError(f"batch must be a positive integer, got {batch!r}")
    if patch < 32 or patch % 32:
        raise SpecError(f"patch must be a multiple of 32 voxels (five stride-2 levels), got {patch!r}")
    g = LayerGraph(batch, fold_bn=False)
    g.shapes["input"] = (batch, 1, patch, patch, patch)
    x = _unet_conv(g, "input_block.conv1", "input", UNET_FILTERS[0])
    x = _unet_conv(g, "input_block.conv2", x, UNET_FILTERS[0])
    skips = [x]
    for level, channels in enumerate(UNET_FILTERS[1:]):
        x = _unet_conv(g, f"downsample.{level}.conv1", x, channels, stride=2)
        x = _unet_conv(g, f"downsample.{level}.conv2", x, channels)
        skips.append(x)
    x = _unet_conv(g, "bottleneck.conv1", x, UNET_FILTERS[-1], stride=2)
    x = _unet_conv(g, "bottleneck.conv2", x, UNET_FILTERS[-1])
    for level, skip in enumerate(reversed(skips)):
        channels = g.shapes[skip][1]
        b, c, *spatial = g.shapes[x]
        up = g.add(f"upsample.{level}.upsample_conv", "conv_transpose", (x,), (b, channels, *[2 * s for s in spatial]),
                   ((c, channels, 2, 2, 2), (channels,)), kernel_shape=(2, 2, 2), strides=(2, 2, 2), groups=1,
                   bias=True)
        cat = g.add(f"upsample.{level}.concat", "concat", (up, skip), (b, 2 * channels, *g.shapes[skip][2:]), axis=1)
        x = _unet_conv(g, f"upsample.{level}.conv1", cat, channels)
        x = _unet_conv(g, f"upsample.{level}.conv2", x, channels)
    b, c, *spatial = g.shapes[x]
    g.add("output.conv", "conv", (x,), (b, classes, *spatial), ((classes, c, 1, 1, 1), (classes,)),
          kernel_shape=(1, 1, 1), strides=(1, 1, 1), pads=(0,) * 6, groups=1, bias=True)
    return LayerNetwork(
        name=f"3D-UNet-KiTS19-{patch}", task="medical image segmentation (MLPerf, KiTS19)", batch=batch,
        precision=Precision.parse(precision), layers=tuple(g.layers),
        source="MLPerf Inference 3d-unet reference model (mlcommons/training image_segmentation Unet3D: filters 32, "
               "64, 128, 256, 320, instance norm, relu, 1 input channel, 3 classes) on one 128^3 sliding-window "
               "patch, built layer by layer by rooflinekit.networks.mlperf")


def mlperf_network(benchmark: str, batch: int = 1, precision: str | None = None, **options: Any) -> LayerNetwork:
    """The network of an MLPerf Inference benchmark.

    Parameters
    ----------
    benchmark : str
        A name of :data:`MLPERF_BENCHMARKS` (the results' ``benchmark`` column; case-insensitive).
    batch : int
        Samples (images, sequences) per batch.
    precision : str, optional
        Network precision; default int8 for resnet50, retinanet, 3d-unet and bert, fp16 for the LLMs.
    **options
        For retinanet: any keyword of :func:`retinanet` (``image_size``, ``classes``, ...); for 3d-unet: ``patch``
        and ``classes`` (:func:`unet3d`). For bert: ``seq_len``
        (default 384). For the LLMs: ``seq_len`` (prefill tokens) or ``context_len`` (a
        decode step reading that many cached tokens), and any keyword of
        :func:`~rooflinekit.networks.transformer.transformer_network`.

    Returns
    -------
    LayerNetwork

    Raises
    ------
    SpecError
        For a benchmark of :data:`NOT_BUILT` (the message says what is missing), or bad options.
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
    if key == "retinanet":
        return retinanet(batch, precision or "int8", **options)
    if key.startswith("3d-unet-") and key in MLPERF_BENCHMARKS:
        return unet3d(batch, precision or "int8", **options)
    if key.startswith("bert-"):
        seq_len = options.pop("seq_len", 384)
        return transformer_network(bundled_config("BERT-Large"), batch=batch, seq_len=seq_len, head="qa",
                                   weights=precision or "int8", name=f"BERT-Large-SQuAD s{seq_len}", **options)
    for prefix, config, default_len in (("gptj-", "GPT-J-6B", 1919), ("llama2-70b-", "Llama-2-70B", 1024)):
        if key.startswith(prefix) and key in MLPERF_BENCHMARKS:
            weights = precision or "fp16"
            if "context_len" in options and "seq_len" not in options:
                return decode_network(bundled_config(config), batch=batch, weights=weights, **options)
            return transformer_network(bundled_config(config), batch=batch, seq_len=options.pop("seq_len", default_len),
                                       weights=weights, **options)
    unbuilt = f" (not built: {', '.join(NOT_BUILT)})" if NOT_BUILT else ""
    raise UnknownNameError(f"unknown MLPerf benchmark {benchmark!r}; built: {', '.join(MLPERF_BENCHMARKS)}{unbuilt}",
                           name=benchmark, kind="MLPerf benchmark")
