"""LLM inference: prefill and decode with a KV cache, memory per device, weight formats, tensor and pipeline
parallelism.

:func:`predict_llm` (also ``rooflinekit.predict_llm``; ``rooflinekit.llm`` is this package) answers "how many
tokens per second will model M give on hardware H, how long until the first token, and does it fit?" from a
Hugging Face style config or an ONNX decoder export with past-key/value inputs, as a roofline bound. Modules: :mod:`~rooflinekit.llm.precision` (weight formats, KV types), :mod:`~rooflinekit.llm.parallel`
(TP/PP shards and the ring all-reduce), :mod:`~rooflinekit.llm.phases` (per-kernel roofline of a phase at many
contexts), :mod:`~rooflinekit.llm.memory` (weights + KV cache + activations per device),
:mod:`~rooflinekit.llm.predict` (the phases put together), :mod:`~rooflinekit.llm.result`,
:mod:`~rooflinekit.llm.calibrated` (the calibrated estimate: kernels priced by the operator model fitted on Vidur's
measured kernels, with an 80 % interval), :mod:`~rooflinekit.llm.sweep` (batch sweeps and their chart), :mod:`~rooflinekit.llm.kv_inputs` (the past-key/value
inputs of an imported decoder graph as its KV-cache state), :mod:`~rooflinekit.llm.onnx_phases` (the phases of an
ONNX decoder export), :mod:`~rooflinekit.llm.onnx_parallel` (its TP / PP split read from the graph),
:mod:`~rooflinekit.llm.onnx_calibrated` (its calibrated estimate).
"""

from rooflinekit.llm.kv_inputs import kv_cache_inputs, with_kv_cache_state
from rooflinekit.llm.memory import MemoryBudget
from rooflinekit.llm.parallel import Parallelism, point_to_point_s, ring_allgather_s, ring_allreduce_s, shard_config
from rooflinekit.llm.precision import WEIGHT_FORMATS, LLMPrecision, WeightFormat, llm_precision, weight_format
from rooflinekit.llm.predict import ContextWindowWarning, decode_step_network, predict_llm, prefill_network
from rooflinekit.llm.result import CalibratedEstimate, LLMResult
from rooflinekit.llm.sweep import llm_batch_sweep, plot_llm_batches
from rooflinekit.networks.transformer import ConfigDefaultWarning

__all__ = [
    "CalibratedEstimate", "ConfigDefaultWarning", "ContextWindowWarning", "LLMPrecision", "LLMResult", "MemoryBudget", "Parallelism", "WEIGHT_FORMATS", "WeightFormat",
    "decode_step_network", "llm_batch_sweep", "llm_precision", "plot_llm_batches", "point_to_point_s", "predict_llm",
    "prefill_network", "ring_allgather_s", "ring_allreduce_s", "shard_config", "weight_format", "kv_cache_inputs",
    "with_kv_cache_state",
]
