"""Calibrated GPU / NPU predictions say what a user choosing hardware for serving needs to read them: when a
batch-1 figure is faster than that batch's own roofline bound, when the interval is widened for a device or a
network the calibration never saw, which releases the calibration keys, and that the catalog BERT-Large is not
the BERT workload of the MLPerf records.

Expected values come from hand derivation (datasheet figures, parameter counts) or from the MLPerf Inference
table and the interval tables stored in the shipped calibration JSON, never from a prediction.
"""

from __future__ import annotations

import json
import math
import warnings
from importlib import resources

import pytest

import rooflinekit as rk
from rooflinekit.compare.calibrate import CalibrationWarning
from rooflinekit.networks.mlperf import mlperf_network

# An AMD Instinct MI250 (OAM), absent from the catalog: AMD Instinct MI250 datasheet (208 CUs, 1700 MHz peak
# engine clock; FP16 / BF16 / INT8 362.1 T, FP32 vector 45.3 T; 128 GB HBM2e at 3.2 TB/s; 500 W).
MI250 = {"name": "AMD Instinct MI250", "kind": "GPU", "family": "CDNA 2", "default_precision": "fp16",
         "tdp_w": 500.0, "peak_ops_per_s": {"fp32": 45.3e12, "fp16": 362.1e12, "bf16": 362.1e12,
                                            "int8": 362.1e12},
         "memories": [{"name": "HBM2e", "capacity_bytes": 128e9, "bandwidth_bytes_per_s": 3276.8e9,
                       "stores": ["weights", "activations"], "source": "AMD Instinct MI250 datasheet"}],
         "source": "AMD Instinct MI250 datasheet"}


def _predict(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        return rk.predict(*args, **kwargs)


def _shipped(name: str) -> dict:
    """The shipped calibration JSON as stored (its interval tables are the data the notes quote)."""
    text = (resources.files("rooflinekit") / "calibrations" / f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def _notes(p, start: str) -> list[str]:
    return [note for note in p.notes if note.startswith(start)]


def test_batch_2_faster_than_its_own_bound_says_so():
    # ResNet-50 v1.5 has 25,557,032 parameters (He et al. / torchvision), so at int8 a lone batch reads at least
    # 25.0e6 B of weights from the Cloud AI 100 Pro's LPDDR4x at 137 GB/s: >= 25.0e6 / 137e9 = 182 us. MLPerf
    # Offline measured ~23,000 samples/s per card (v2.1 / v3.0 medians 23,059 and 23,780), i.e. ~43 us per
    # sample: the sustained share of two samples, ~87 us, is ~2x below the batch-2 bound, and the note must say so.
    p = _predict("ResNet-50", "Cloud AI 100 Pro", batch=2, calibrated=True)
    assert p.latency_s < 25.0e6 / 137e9 <= p.bound_latency_s
    (note,) = _notes(p, "latency_s ")
    assert "below the roofline bound of a lone batch of 2" in note and "> 100 %" in note
    # A Tesla T4 measured 6,121 samples/s (v3.0): 2 / 6121 = 327 us per batch of 2, slower than its batch-2 bound
    # (25.0e6 B / 320e9 B/s = 78 us of weights; 2 x 2 x 4.1e9 MAC / 130e12 int8 ops/s = 126 us of compute): no note.
    t4 = _predict("ResNet-50", "Tesla T4", batch=2, calibrated=True)
    assert t4.latency_s > t4.bound_latency_s and not _notes(t4, "latency_s ")


def test_a_lone_sample_below_the_roofline_it_scales_says_that_roofline_is_no_bound_there():
    # Batch 1 on the Cloud AI 100 Pro: the SingleStream calibration, whose records on it ran ResNet-50 below its
    # weights-and-activations roofline (activations kept in its on-chip SRAM), so its estimate is too; a note says
    # that roofline is no bound there, with the efficiency it implies
    p = _predict("ResNet-50", "Cloud AI 100 Pro", batch=1, calibrated=True)
    assert p.latency_s < p.bound_latency_s
    (note,) = _notes(p, "latency_s ")
    assert "below the roofline it scales" in note and "so here it is no bound" in note
    assert f"efficiency_pct {100 * p.bound_latency_s / p.latency_s:.0f} % > 100 %" in note


def test_unseen_device_interval_is_stated_with_its_width():
    data = _shipped("mlperf_inference_gpu")
    low, high = math.exp(data["novel_device"]["low"]), math.exp(data["novel_device"]["high"])
    spec = rk.HardwareSpec.model_validate(MI250)
    p = _predict("ResNet-50", spec, batch=64, calibrated=True)
    (note,) = _notes(p, "interval: AMD Instinct MI250 is a device no calibration record had")
    assert f"x{low:.2f} to x{high:.2f}" in note
    assert p.latency_interval_s[0] / p.latency_s == pytest.approx(low, rel=1e-9)
    assert p.latency_interval_s[1] / p.latency_s == pytest.approx(high, rel=1e-9)
    # no MLPerf record in the table is of an AMD GPU: the default stack's factors come from other core families
    (stack,) = _notes(p, "framework: none given; keyed as TensorRT")
    assert "no record had core family CDNA 2" in stack
    known = _predict("ResNet-50", "A100-SXM4-80GB", batch=64, calibrated=True)
    assert not _notes(known, "interval:")  # a device with records: its own interval, no note
    assert "no record had core family" not in _notes(known, "framework: none given")[0]
    # the unseen device's interval is wider than the known device's
    width, known_width = (high / low for low, high in (p.latency_interval_s, known.latency_interval_s))
    assert width > known_width


def test_catalog_bert_large_is_named_as_a_new_network_and_the_records_workload_is_not():
    data = _shipped("mlperf_inference_gpu")
    table = data["novel_network"]
    p = _predict("BERT-Large", "H100-SXM5-80GB", batch=64, calibrated=True)
    # the catalog entry: 384 tokens per sample (its source: the MLPerf reference's padded length), fp16
    (bert,) = _notes(p, "BERT-Large: costed at 384 tokens per sample, fp16")
    assert "177 real tokens" in bert and "mlperf_network('bert-99', seq_len=177, precision='int8')" in bert
    at_int8 = _predict("BERT-Large", "H100-SXM5-80GB", batch=64, calibrated=True, precision="int8")
    assert _notes(at_int8, "BERT-Large: costed at 384 tokens per sample, int8")  # the precision it ran at
    (interval,) = _notes(p, "interval: no GPU record of the calibration ran BERT-Large")
    assert "BERT-Large-SQuAD s177" in interval
    assert p.latency_interval_s[0] / p.latency_s == pytest.approx(math.exp(table["low"]), rel=1e-9)
    assert p.latency_interval_s[1] / p.latency_s == pytest.approx(math.exp(table["high"]), rel=1e-9)
    # the records' workload: neither note, and close to the measured rate. H100-SXM-80GB bert-99 Offline in v4.1
    # (MLPerf table, 11 systems): median 8,976 samples/s per accelerator.
    records = mlperf_network("bert-99", seq_len=177, precision="int8")
    q = _predict(records, "H100-SXM5-80GB", batch=64, calibrated=True, framework="TensorRT",
                 framework_version="round v4.1")
    assert not _notes(q, "BERT-Large") and not _notes(q, "interval:")
    assert q.fps == pytest.approx(8976, rel=0.10)


def test_new_device_and_new_network_state_the_interval_used():
    # both new: the interval is the new-network one on an unseen device (the calibration's stored table)
    table = _shipped("mlperf_inference_gpu")["novel_network"]
    low, high = math.exp(table["low_unseen_device"]), math.exp(table["high_unseen_device"])
    p = _predict("BERT-Large", rk.HardwareSpec.model_validate(MI250), batch=64, calibrated=True)
    (device,) = _notes(p, "interval: AMD Instinct MI250 is a device no calibration record had")
    assert "spread between devices" in device and " to x" not in device  # the range is the network note's
    (network,) = _notes(p, "interval: no GPU record of the calibration ran BERT-Large")
    assert f"between networks and devices (x{low:.2f} to x{high:.2f} of the estimate)" in network
    assert p.latency_interval_s[0] / p.latency_s == pytest.approx(low, rel=1e-9)
    assert p.latency_interval_s[1] / p.latency_s == pytest.approx(high, rel=1e-9)


def test_a_release_not_given_is_named_so_in_the_levels():
    # the MLPerf table's newest round is v4.1 and TensorRT rows exist in it: with no release given the TensorRT
    # factors of round v4.1 are used, and the level says that no release was given (not an '<unknown>' key)
    p = _predict("ResNet-50", "NVIDIA L4", batch=64, calibrated=True)
    assert ("framework_version: TensorRT release not given (not calibrated) -> TensorRT | round v4.1 (an unseen "
            "release falls back to the newest calibrated release of the same stack)") in p.calibration_levels
    given = _predict("ResNet-50", "NVIDIA L4", batch=64, calibrated=True, framework="TensorRT",
                     framework_version="10.2")
    assert any(level.startswith("framework_version: TensorRT | 10.2 not calibrated -> TensorRT | round v4.1")
               for level in given.calibration_levels)
    assert p.latency_s == given.latency_s  # both fall back to the same release


def test_a_held_out_gpu_falls_inside_its_unseen_device_interval():
    # The MLPerf table's GeForce RTX 4090 (v3.0, closed, TensorRT 8.5.2) is no calibration record: its Offline rows
    # state fp32 and beat the fp32 bound, so they were left out. Measured per accelerator: ResNet-50 36,427.9 and
    # BERT 4,205.25 samples/s. Predicted at int8 (what ran) from the catalog spec alone, each lies inside the
    # unseen-device interval, as the note says the interval is.
    for network, measured in ((mlperf_network("resnet50", precision="int8"), 36427.9),
                              (mlperf_network("bert-99", seq_len=177, precision="int8"), 4205.25)):
        p = _predict(network, "GeForce RTX 4090", batch=64, calibrated=True, framework="TensorRT")
        assert _notes(p, "interval: GeForce RTX 4090 is a device no calibration record had")
        low, high = p.latency_interval_s
        assert 64 / high <= measured <= 64 / low, network.name
