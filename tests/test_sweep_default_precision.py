"""Sweeps fall back to a hardware's default precision row by row, as ``predict`` does.

With the network's own precision (None) and a network whose type has no peak on a spec that gives a
``default_precision``, ``predict`` costs the network at that precision and says so in ``notes``; every row of a sweep
(in process, streamed through a reduction, on Dask, on a hardware grid, from the command line) does the same.
"""

import io
import math

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit import HardwareSpec
from rooflinekit.cli import main
from rooflinekit.errors import SpecError
from rooflinekit.roofline import CountedNetwork, HardwareGrid
from rooflinekit.roofline.reductions import Best, Histogram, Pareto

pytestmark = pytest.mark.filterwarnings("ignore::rooflinekit.CapacityWarning")

RESULTS = ("fps", "latency_s", "bound", "ops", "bytes", "operational_intensity", "attainable_ops_per_s",
           "peak_ops_per_s", "latency_optimistic_s", "latency_pessimistic_s", "estimate", "engines", "engine_batches",
           "kernels", "fits", "notes", "precision", "pruning_pct", "batch")

# int8 only, default int8: the fp32 networks (LeNet-MNIST, ResNet-20-CIFAR-10) fall back to int8. One memory:
# evaluated with the other plain specs in one pass.
INT8_MCU = HardwareSpec(
    name="int8-mcu", kind="MCU", source="test", peak_ops_per_s={"int8": 2e9}, default_precision="int8",
    memories=[{"name": "flash", "capacity_bytes": 2e6, "bandwidth_bytes_per_s": 1e8, "on_chip": True,
               "stores": ["weights"], "source": "test"},
              {"name": "SRAM", "capacity_bytes": 5e5, "bandwidth_bytes_per_s": 1e9, "on_chip": True,
               "stores": ["activations", "state"], "source": "test"}])
# a cache that spills weights to DRAM (evaluated on its own, notes on most rows), int8 and fp16, default int8
SPILL = HardwareSpec(
    name="spill-npu", kind="NPU", source="test", peak_ops_per_s={"int8": 4e12, "fp16": 1e12},
    default_precision="int8",
    memories=[{"name": "cache", "capacity_bytes": 5e4, "bandwidth_bytes_per_s": 1e11, "on_chip": True,
               "stores": ["weights", "activations"], "spill_to": "DRAM", "source": "test"},
              {"name": "DRAM", "capacity_bytes": 4e9, "bandwidth_bytes_per_s": 4e9, "stores": [], "source": "test"}])
# the same int8-only device without a default: the fp32 networks keep failing
NO_DEFAULT = INT8_MCU.model_copy(update={"name": "int8-mcu-no-default", "default_precision": None})


def _network(name):
    return rk.get_network(name)


def _hardware(name):
    return {h.name: h for h in (INT8_MCU, SPILL, NO_DEFAULT)}.get(name) or rk.get_hardware(name)


def _assert_row_is_prediction(row, p):
    for field in RESULTS:
        got, want = getattr(row, field), getattr(p, field)
        if isinstance(want, float) and math.isnan(want):
            assert math.isnan(got), field
        else:
            assert got == want, (field, got, want)


def test_resnet50_on_jetson_nano_is_predicted_at_fp16_hand_checked():
    # ResNet-50 is int8 (7.72 GOP per frame at 302.71 ops per weight byte: 25.5 MB); Jetson Nano has fp16
    # (472 GFLOP/s) and fp32 peaks, default fp16. At fp16 the weights are twice that, 51.0 MB: 51e6 / 25.6e9 =
    # 1.99 ms per batch against 7.72e9 / 472e9 = 16.36 ms of compute per frame, so compute-bound at any batch:
    # 472e9 / 7.72e9 = 61.14 frames/s.
    table = rk.sweep(["ResNet-50"], ["Jetson Nano"], [None], [1, 4])
    assert table.status.tolist() == ["ok", "ok"] and table.precision.tolist() == ["fp16", "fp16"]
    assert table.fps.tolist() == pytest.approx([472e9 / 7.72e9] * 2, rel=1e-12)
    assert table.bound.tolist() == ["compute", "compute"]
    assert table.bytes.iloc[0] == pytest.approx(2 * 7.72e9 / 302.71, rel=1e-12)
    note = ("precision fp16: Jetson Nano's default, as the network's own type has no peak there (Jetson Nano has no "
            "native int8 peak; it supports fp16, fp32)")
    assert table.notes.tolist() == [(note,), (note,)]


@pytest.mark.parametrize("mode,traffic", [("network", "weights_only"), ("layer", "weights_and_activations"),
                                          ("layer", "on_chip_if_fits")])
def test_fallback_rows_equal_predict_and_other_rows_are_unchanged(mode, traffic):
    networks = ["ResNet-50", "LeNet-MNIST", "ResNet-20-CIFAR-10", "MobileNetv1"]
    hardware = ["Jetson Nano", "ZCU104-DPU", INT8_MCU, SPILL, NO_DEFAULT, "Jetson AGX Orin 64GB"]
    table = rk.sweep(networks, hardware, [None, "int8"], [1, 3], mode, traffic)
    assert len(table) == 4 * 2 * 6 * 2  # every combination, in sweep order
    assert table.network.tolist() == [n for n in networks for _ in range(2 * 6 * 2)]
    fallen = 0
    for row in table.itertuples():
        explicit = None if row.Index % 24 < 12 else "int8"  # the precision asked for
        try:
            p = rk.predict(_network(row.network), _hardware(row.hardware), explicit, row.batch, mode, traffic)
        except (rk.errors.PrecisionError, SpecError) as exc:
            assert row.status != "ok" and str(exc).startswith(row.status), (row.network, row.hardware)
            assert math.isnan(row.fps) and row.notes is None
            continue
        assert row.status == "ok", (row.network, row.hardware, row.status)
        _assert_row_is_prediction(row, p)
        fallen += any("default, as the network's own type has no peak" in n for n in p.notes)
    # falling back: ResNet-50 and MobileNetv1 (int8) on Jetson Nano (fp16), unless activation traffic refuses
    # these aggregate specs first (no activation count), and the fp32 LeNet-MNIST and ResNet-20-CIFAR-10 on
    # ZCU104-DPU, int8-mcu and spill-npu (int8): (2 x 1 + 2 x 3) or 2 x 3 pairs, x 2 batches
    assert fallen == (16 if traffic == "weights_only" else 12)
    # the rows that need no fallback are those of a sweep without the specs that fall back
    plain = rk.sweep(networks, [NO_DEFAULT, "Jetson AGX Orin 64GB"], [None, "int8"], [1, 3], mode, traffic)
    kept = table[table.hardware.isin([NO_DEFAULT.name, "Jetson AGX Orin 64GB"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept.astype(object), plain.astype(object))


def test_explicit_precision_the_hardware_lacks_still_fails():
    table = rk.sweep(["ResNet-50", "LeNet-MNIST"], ["Jetson Nano", INT8_MCU], ["int8", "fp32"], [1])
    by = {(r.network, r.hardware, r.precision): r for r in table.itertuples()}
    nano = by[("ResNet-50", "Jetson Nano", "int8")]
    assert nano.status == "Jetson Nano has no native int8 peak; it supports fp16, fp32"
    assert math.isnan(nano.fps) and nano.notes is None and pd.isna(nano.fits)
    assert by[("LeNet-MNIST", "int8-mcu", "fp32")].status == "int8-mcu has no native fp32 peak; it supports int8"
    assert by[("LeNet-MNIST", "int8-mcu", "int8")].status == "ok"
    assert not any("default" in str(n) for n in table.notes)


def test_counted_network_cannot_fall_back_and_says_why_as_predict_does():
    counted = CountedNetwork.of(rk.get_network("ResNet-50"))
    nano = rk.get_hardware("Jetson Nano")
    with pytest.raises(rk.errors.PrecisionError) as info:  # a precision the hardware lacks, not a bad argument
        rk.predict(counted, nano)
    assert (info.value.precision, info.value.hardware, info.value.supported) == ("int8", "Jetson Nano",
                                                                                 ("fp16", "fp32"))
    table = rk.sweep([counted], [nano, "ZCU104-DPU"], [None], [1])
    assert table.status.tolist() == [str(info.value), "ok"]
    assert "already counted at int8: count it at a precision" in table.status.iloc[0]
    assert table.precision.tolist() == ["int8", "int8"]


def test_networks_with_their_own_batches_fall_back_with_them():
    lenet = rk.get_network("LeNet-MNIST")
    twice = lenet.model_copy(update={"name": "LeNet-batch-2", "batch": 2})
    table = rk.sweep([lenet, twice, rk.get_network("ResNet-20-CIFAR-10")], [INT8_MCU, "Jetson Nano"], [None],
                     [None, 5], mode="layer")
    assert table.batch.tolist() == [1, 5, 1, 5, 2, 5, 2, 5, 1, 5, 1, 5]
    assert table.precision.tolist() == ["int8", "int8", "fp32", "fp32"] * 3
    for row in table.itertuples():
        network = {"LeNet-batch-2": twice}.get(row.network) or rk.get_network(row.network)
        _assert_row_is_prediction(row, rk.predict(network, _hardware(row.hardware), None, row.batch, "layer"))


REDUCTIONS = [lambda: Best("latency_s", by="network"), lambda: Best("fps", "max", by=["hardware", "precision"], k=2),
              lambda: Pareto({"latency_s": "min", "bytes": "min"}),
              lambda: Histogram("latency_s", np.logspace(-6, 0, 7), by="precision")]


def _normal(table):
    return table.reset_index().astype({c: object for c in table.columns
                                       if isinstance(table[c].dtype, pd.CategoricalDtype)})


IDLE_AXIS = "ignore:grid on Jetson Nano:rooflinekit.RooflineWarning"
"""The space's fp16 peak axis does nothing for the fp32 networks swept at their own type, which the sweep says."""


def _space():
    nano = rk.get_hardware("Jetson Nano")
    grid = HardwareGrid.of(nano, peak_ops_per_s={"fp16": [2e11, 4.72e11]},
                           bandwidth_bytes_per_s={"LPDDR4": [1e10, 2.56e10]})
    networks = [rk.get_network(n) for n in ("ResNet-50", "LeNet-MNIST", "MobileNetv1", "ResNet-20-CIFAR-10")]
    return networks, [nano, INT8_MCU, grid, rk.get_hardware("ZCU104-DPU")], [None, "fp16"], [1, 4]


@pytest.mark.filterwarnings(IDLE_AXIS)
@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("chunk_rows", [3, 50])
def test_reduction_over_a_sweep_with_fallbacks_equals_reduction_of_the_table(reduce, chunk_rows):
    networks, hardware, precisions, batches = _space()
    table = rk.sweep(networks, hardware, precisions, batches)
    own = table[table.precision.astype(str) != "fp16"]  # fp16 rows: asked for, or Jetson Nano's default
    assert set(own.precision) == {"int8", "fp32"} and (own.status == "ok").any()
    # fallen back: the int8 ResNet-50 and MobileNetv1 on Jetson Nano and its 4 grid points (2 x 5 x 2 batches),
    # the fp32 LeNet-MNIST and ResNet-20-CIFAR-10 on int8-mcu and ZCU104-DPU (2 x 2 x 2 batches); the rows that ask
    # for fp16 on those two fail
    assert (table.notes.map(lambda n: n is not None and any("default" in x for x in n))).sum() == 20 + 8
    assert (table.status != "ok").sum() == 4 * 2 * 2
    streamed = rk.sweep(networks, hardware, precisions, batches, reduce=reduce(), chunk_rows=chunk_rows)
    pd.testing.assert_frame_equal(_normal(streamed), _normal(reduce()(table)), check_dtype=False)


def test_grid_whose_template_lacks_the_network_type():
    nano = rk.get_hardware("Jetson Nano")
    grid = HardwareGrid.of(nano, peak_ops_per_s={"fp16": [2e11, 4.72e11]}, clock_scale=[0.5, 1.0])
    no_default = HardwareGrid.of(nano.model_copy(update={"name": "Nano-no-default", "default_precision": None}),
                                 clock_scale=[1.0])
    resnet = rk.get_network("ResNet-50")
    table = rk.sweep([resnet], [grid, no_default, "ZCU104-DPU"], [None, "int8"], [1, 2], chunk_rows=2)
    own, explicit = table.iloc[:12], table.iloc[12:]
    on_grid = own[own.hardware == "Jetson Nano"]
    assert on_grid.grid_point.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert (on_grid.status == "ok").all() and (on_grid.precision == "fp16").all()
    expected_note = rk.predict(resnet, nano).notes  # the template's name, as the rows' hardware column
    for row in on_grid.itertuples():
        p = rk.predict(resnet, grid.spec(row.grid_point), "fp16", row.batch)
        for field in ("fps", "latency_s", "ops", "bytes", "peak_ops_per_s", "latency_pessimistic_s"):
            assert getattr(row, field) == pytest.approx(getattr(p, field), rel=1e-12), field
        assert row.bound == p.bound and row.notes == expected_note
    # by hand: the fp16 peak axis times the clock, compute-bound (>= 7.72e9 / 4.72e11 = 16 ms a frame against
    # 51 MB of weights at 25.6 GB/s: 2 ms a batch)
    peaks = np.array([2e11 * 0.5, 2e11, 4.72e11 * 0.5, 4.72e11])
    assert on_grid.fps.tolist() == pytest.approx(np.repeat(peaks / 7.72e9, 2).tolist(), rel=1e-12)
    lacking = own[own.hardware == "Nano-no-default"]
    assert lacking.status.tolist() == ["Nano-no-default has no native int8 peak; it supports fp16, fp32"] * 2
    assert lacking.precision.tolist() == ["int8"] * 2 and lacking.fps.isna().all()
    assert (explicit[explicit.hardware != "ZCU104-DPU"].status != "ok").all()  # explicit int8: no fallback
    assert explicit.notes.map(lambda n: n is None or not any("default" in x for x in n)).all()
    # a network already counted cannot be counted at the default: the reason predict gives
    counted = CountedNetwork.of(resnet)
    with pytest.raises(rk.errors.PrecisionError) as info:
        rk.predict(counted, nano)
    assert rk.sweep([counted], [grid], [None], [1]).status.tolist() == [str(info.value)] * 4


@pytest.mark.filterwarnings(IDLE_AXIS)
def test_dask_engine_gives_the_same_table_and_reductions():
    distributed = pytest.importorskip("distributed")
    networks, hardware, precisions, batches = _space()
    local = rk.sweep(networks, hardware, precisions, batches)
    best = Best("latency_s", by="network")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = rk.sweep(networks, hardware, precisions, batches, engine="dask", scheduler=client, partitions=3)
        reduced = rk.sweep(networks, hardware, precisions, batches, reduce=best, chunk_rows=7, engine="dask",
                           scheduler=client, partitions=2)
    if not isinstance(remote, pd.DataFrame):  # a lazy Dask DataFrame where dask.dataframe is installed
        remote = remote.compute()
    plain = local.astype({c: object for c in local.columns if isinstance(local[c].dtype, pd.CategoricalDtype)})
    pd.testing.assert_frame_equal(remote, plain)
    pd.testing.assert_frame_equal(_normal(reduced), _normal(Best("latency_s", by="network")(local)), check_dtype=False)


def test_cli_sweep_predicts_resnet50_on_jetson_nano(capsys):
    code = main(["sweep", "--models", "ResNet-50", "--hardware", "Jetson Nano,ZCU104-DPU", "--format", "csv"])
    out, err = capsys.readouterr()
    assert code == 0 and "predictions failed" not in err
    table = pd.read_csv(io.StringIO(out)).set_index("hardware")
    assert table.loc["Jetson Nano", "precision"] == "fp16" and (table.status == "ok").all()
    assert table.loc["Jetson Nano", "fps"] == pytest.approx(472e9 / 7.72e9, rel=1e-9)
    assert "Jetson Nano's default" in table.loc["Jetson Nano", "notes"]


def test_cli_sweep_over_the_catalog_reports_only_rows_predict_refuses(capsys):
    refused = []
    for spec in rk.hardware_catalog().specs:
        try:
            rk.predict("ResNet-50", spec)
        except (rk.errors.PrecisionError, SpecError):
            refused.append(spec.name)
    assert "Jetson Nano" not in refused
    code = main(["sweep", "--models", "ResNet-50", "--format", "json"])
    _, err = capsys.readouterr()
    assert code == 0
    if refused:
        assert f"{len(refused)} of {len(rk.hardware_catalog().specs)} predictions failed" in err
        assert f"e.g. {refused[0]} has no native" in err
    else:
        assert "predictions failed" not in err


def test_a_row_that_fails_at_the_default_precision_says_that_precision():
    """An fp32 network with no ops on the NCS (fp16 only) is tried at its default, fp16, and fails there: the row's
    precision is the one its status names, as predict's error does (it said fp32 beside 'at fp16')."""
    empty = rk.LayerNetwork(name="nothing", precision="fp32", source="t", batch=1, layers=(
        rk.Layer(name="view", op="reshape", inputs=((1, 4),), outputs=((4,),)),))
    with pytest.raises(SpecError, match=r"nothing has no ops and moves no bytes at fp16"):
        rk.predict(empty, "NCS")
    row = rk.sweep([empty], ["NCS"]).iloc[0]
    assert (row["precision"], row["status"]) == ("fp16", "nothing has no ops and moves no bytes at fp16; nothing "
                                                          "to predict")
