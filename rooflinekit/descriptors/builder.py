"""Build layer-level networks in Python, with output shapes inferred (channels-first, batch 1).

    b = NetworkBuilder("LeNet", input_shape=(1, 32, 32))
    b.conv(6, 3); b.act("relu"); b.pool("avg_pool", 2); ...; net = b.build(source="...")

Convolution output size per spatial dim: ``floor((S + 2p - d (k - 1) - 1) / s) + 1``; ``padding="same"``
gives ``ceil(S / s)``. Every method returns the name of the tensor it produced, so residual branches can be
wired with ``src=``.
"""

from __future__ import annotations

import math
from typing import Any

from rooflinekit.descriptors.network import Layer, LayerNetwork, Precision, Shape, TensorSpec
from rooflinekit.errors import ShapeError


class NetworkBuilder:
    """A sequential network under construction; each method appends a layer and returns its output tensor."""

    def __init__(self, name: str, input_shape: tuple[int, ...], precision: str = "fp32"):
        self.name = name
        self.precision = Precision.parse(precision)
        self._shapes: dict[str, Shape] = {"input": (1, *input_shape)}
        self._last = "input"
        self._layers: list[Layer] = []

    def _add(self, op: str, out: Shape, src: str | None, weights: tuple[Shape, ...] = (), name: str | None = None,
             inputs: tuple[str, ...] | None = None, **attrs: Any) -> str:
        sources = inputs or (src or self._last,)
        name = name or f"{op}_{len(self._layers)}"
        self._layers.append(Layer(
            name=name, op=op, inputs=tuple(self.shape(s) for s in sources), outputs=(out,),
            weights=tuple(TensorSpec(shape=w) for w in weights), attrs=attrs,
        ))
        self._shapes[name] = out
        self._last = name
        return name

    def shape(self, tensor: str | None = None) -> Shape:
        """Shape of ``tensor`` (default: the last one produced)."""
        name = tensor or self._last
        if name not in self._shapes:
            raise ShapeError(f"no tensor {name!r} in {self.name}; use a name a builder method returned")
        return self._shapes[name]

    def conv(self, out_channels: int, kernel: int, stride: int = 1, padding: str | int = "valid",
             groups: int = 1, dilation: int = 1, bias: bool = True, src: str | None = None,
             name: str | None = None) -> str:
        n, c, *spatial = self.shape(src)
        if padding == "same":
            out_spatial = [math.ceil(s / stride) for s in spatial]
        else:
            pad = 0 if padding == "valid" else int(padding)
            out_spatial = [(s + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1 for s in spatial]
        if min(out_spatial) < 1:
            raise ShapeError(f"conv {kernel}x{kernel} stride {stride} does not fit input {self.shape(src)}")
        weights: tuple[Shape, ...] = ((out_channels, c // groups, *[kernel] * len(spatial)),)
        if bias:
            weights += ((out_channels,),)
        return self._add("conv", (n, out_channels, *out_spatial), src, weights, name,
                         kernel_shape=[kernel] * len(spatial), strides=[stride] * len(spatial), groups=groups,
                         dilations=[dilation] * len(spatial))

    def pool(self, kind: str, kernel: int, stride: int | None = None, src: str | None = None) -> str:
        n, c, *spatial = self.shape(src)
        stride = stride or kernel
        out_spatial = [(s - kernel) // stride + 1 for s in spatial]
        return self._add(kind, (n, c, *out_spatial), src, kernel_shape=[kernel] * len(spatial),
                         strides=[stride] * len(spatial))

    def global_pool(self, kind: str = "global_avg_pool", src: str | None = None) -> str:
        n, c, *spatial = self.shape(src)
        return self._add(kind, (n, c, *[1] * len(spatial)), src)

    def flatten(self, src: str | None = None) -> str:
        n, *rest = self.shape(src)
        return self._add("flatten", (n, math.prod(rest)), src)

    def dense(self, out_features: int, bias: bool = True, src: str | None = None, name: str | None = None) -> str:
        if len(self.shape(src)) != 2:
            raise ShapeError(f"dense needs a (batch, features) input, got {self.shape(src)}; flatten first")
        n, features = self.shape(src)
        weights: tuple[Shape, ...] = ((out_features, features),) + (((out_features,),) if bias else ())
        return self._add("fully_connected", (n, out_features), src, weights, name)

    def act(self, kind: str, src: str | None = None) -> str:
        return self._add(kind, self.shape(src), src)

    def batch_norm(self, src: str | None = None) -> str:
        channels = self.shape(src)[1]
        return self._add("batch_norm", self.shape(src), src, weights=((channels,), (channels,)))

    def add(self, a: str, b: str) -> str:
        if self.shape(a) != self.shape(b):
            raise ShapeError(f"cannot add {a} {self.shape(a)} and {b} {self.shape(b)}")
        return self._add("add", self.shape(a), None, inputs=(a, b))

    def build(self, source: str, **fields: Any) -> LayerNetwork:
        return LayerNetwork(name=self.name, precision=self.precision, layers=tuple(self._layers), source=source,
                            **fields)
