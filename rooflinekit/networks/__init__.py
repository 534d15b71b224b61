"""Network builders: layer-level networks from a compact description.

- :mod:`rooflinekit.networks.transformer`: a Hugging Face style ``config.json`` (no weights) -> the layers of a
  decoder or encoder transformer at a batch, a number of tokens and a KV length (prefill, decode step).
- :mod:`rooflinekit.networks.nb201`: a NAS-Bench-201 architecture string -> the whole CIFAR-10 network.
- :mod:`rooflinekit.networks.mlperf`: the MLPerf Inference reference networks.
- :mod:`rooflinekit.networks.neusight`: the transformers of the NeuSight GPU measurements.
- :mod:`rooflinekit.networks.imagenet`: the ImageNet classifiers of the QuTiBench measurements (ResNet-50 v1,
  GoogLeNet v1, MobileNet v1, EfficientNet-EdgeTPU S/M/L).

Builders only describe layers (shapes, weights, state); counting stays in :mod:`rooflinekit.counters`.
"""

from rooflinekit.networks.imagenet import (
    QUTIBENCH_NETWORKS, efficientnet_edgetpu, googlenet_v1, mobilenet_v1, qutibench_network, resnet50_v1,
)
from rooflinekit.networks.mlperf import MLPERF_BENCHMARKS, mlperf_network, resnet50_v15
from rooflinekit.networks.neusight import NEUSIGHT_MODELS, neusight_network
from rooflinekit.networks.nb201 import nb201_layer_union, nb201_network, nb201_published_flops, parse_nb201_arch
from rooflinekit.networks.transformer import (
    TransformerConfig, bundled_transformer_configs, decode_network, kv_cache_bytes, load_transformer_config,
    transformer_network,
)

__all__ = [
    "MLPERF_BENCHMARKS", "mlperf_network", "resnet50_v15", "NEUSIGHT_MODELS", "neusight_network", "TransformerConfig", "bundled_transformer_configs", "decode_network", "kv_cache_bytes",
    "load_transformer_config", "nb201_layer_union", "nb201_network", "nb201_published_flops", "parse_nb201_arch", "transformer_network",
    "QUTIBENCH_NETWORKS", "efficientnet_edgetpu", "googlenet_v1", "mobilenet_v1", "qutibench_network", "resnet50_v1",
]
