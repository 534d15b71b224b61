"""QuTiBench records faster than their roofline bound: each one is explained by the data, and the loader says why."""

import warnings

import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.catalog import MODEL_DIR, get_network, load_network_file
from rooflinekit.compare import align, load_qutibench
from rooflinekit.compare.loaders.qutibench_notes import FINN_NOTE, TX2_MLP_NOTE, record_notes, throughput_note
from rooflinekit.counters import count_network
from conftest import shared_data

PLATFORMS = ["Ultra96-DPU", "ZCU104-DPU", "ZCU102-DPU", "ZCU104-FINN", "ZCU104-BISMO", "TX2-maxn", "TX2-maxp",
             "TX2-maxq", "EdgeTPU-fast", "EdgeTPU-slow", "NCS", "U96-Quadcore-A53"]


def one(records, hardware, network, precision, pruning_pct, batch):
    rows = records[(records.hardware == hardware) & (records.network == network) & (records.precision == precision)
                   & (records.pruning_pct == pruning_pct) & (records.batch == batch)]
    assert len(rows) == 1
    return rows.iloc[0]


@pytest.fixture(scope="module")
def records():
    return load_qutibench(shared_data("qutibench")).records


def test_every_record_faster_than_the_bound_at_its_own_batch_is_explained(records):
    # weights-only predictions at each record's own batch: any record above 100 % must carry a note saying why
    networks = load_network_file(MODEL_DIR / "qutibench.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # failed sweep rows (a type a device lacks) and the faster-than-bound warning
        predicted = rk.sweep(networks, PLATFORMS, ["int2", "int4", "int8", "fp16", "fp32"],
                             sorted(records.batch.unique().tolist()))
        result = align(predicted, records)
    assert result.unmatched_records.empty
    faster = result.matched[result.matched.efficiency_pct > 100]
    assert not faster.empty  # FINN's and TX2's MLPs (the next tests derive one of each by hand)
    explained = faster.notes.fillna("").map(lambda notes: FINN_NOTE in notes or TX2_MLP_NOTE in notes)
    assert explained.all(), faster.loc[~explained, ["hardware", "network", "precision", "batch", "efficiency_pct"]]


def test_finn_mlp_beats_the_dram_bound_because_its_weights_are_on_chip(records):
    # QuTiBench's published level-0 cell ZCU104-FINN_INT2 x MLP_100_INT2: 7680 fps
    # (= 19.2 GB/s x OI 8 ops/byte at INT2 / 0.02 GOP per frame)
    prediction = rk.predict("MLP", "ZCU104-FINN", "int2", batch=1)
    assert prediction.fps == pytest.approx(7680)
    assert prediction.bound == "memory:DRAM"
    record = one(records, "ZCU104-FINN", "MLP", "int2", 100.0, 1)
    assert record.throughput_fps == pytest.approx(43478.261)  # experimental_data_mnist.csv, fps-comp
    # 784-2048-2048-2048-10: 10,014,720 weights of 2 bits = 2,503,680 bytes per frame, read from DRAM at that rate
    # would take 109 GB/s, 5.7x the board's 19.2 GB/s: the weights never leave the chip
    assert record.throughput_fps * 10_014_720 * 2 / 8 == pytest.approx(108.86e9, rel=1e-3)
    assert FINN_NOTE in record.notes


def test_tx2_mlp_at_batch_128_exceeds_the_gpu_peak(records):
    # batch 128, FP32, 100 %: weights 0.02 GOP / 0.5 ops/byte = 40 MB per batch, 0.67 ms at 59.7 GB/s; compute
    # 128 x 0.02 GOP / 0.67 TOP/s = 3.82 ms, so the bound is compute: 0.67e12 / 0.02e9 = 33,500 fps
    prediction = rk.predict("MLP", "TX2-maxn", "fp32", batch=128)
    assert prediction.fps == pytest.approx(33_500)
    assert prediction.bound == "compute"
    record = one(records, "TX2-maxn", "MLP", "fp32", 100.0, 128)
    # fps-comp 45,810.4 x 20,029,440 ops = 0.918 TOP/s: 1.37x the 256 cores x 2 x 1.3005 GHz FP32 peak
    assert record.throughput_fps * 20_029_440 / 0.67e12 == pytest.approx(1.3695, rel=1e-3)
    assert TX2_MLP_NOTE in record.notes
    # the latency says the same (128 / 3.005 ms = 42,595.7 fps, 1.27x), with fps-comp 7.5 % above it
    assert "batch / lat-comp 42595.7 fps disagree by 8 %" in record.notes


def test_a_batch_1_prediction_is_no_bound_for_a_larger_batch(records):
    # QuTiBench's cell TX2-maxn_FP32 x MLP_100_FP32: 1492.5 fps = 59.7 GB/s / 40 MB of FP32 weights per frame.
    # At batch 2 the weights are read once for two frames: 2 x 1492.5 = 2985 fps
    assert rk.predict("MLP", "TX2-maxn", "fp32", batch=1).fps == pytest.approx(1492.5)
    assert rk.predict("MLP", "TX2-maxn", "fp32", batch=2).fps == pytest.approx(2985)
    record = one(records, "TX2-maxn", "MLP", "fp32", 100.0, 2)
    assert 1492.5 < record.throughput_fps < 2985  # 2563.21: above the batch-1 figure, inside its own bound


def test_notes_go_to_finn_and_tx2_mlp_records_only(records):
    notes = records.notes.fillna("")
    finn = records.hardware.eq("ZCU104-FINN")
    tx2_mlp = records.hardware.str.startswith("TX2-") & records.network.eq("MLP")
    assert notes[finn].str.contains(FINN_NOTE, regex=False).all()
    assert notes[tx2_mlp].str.contains(TX2_MLP_NOTE, regex=False).all()
    assert not notes[~finn].str.contains(FINN_NOTE, regex=False).any()
    assert not notes[~tx2_mlp].str.contains(TX2_MLP_NOTE, regex=False).any()
    # BISMO's fps-comp is batch / lat-comp exactly: none of its records has a note
    assert records.loc[records.hardware.eq("ZCU104-BISMO"), "notes"].isna().all()


@pytest.mark.parametrize(("fps", "batch", "latency_ms", "expected"), [
    (70611.0, 128, 2.03175, "fps-comp 70611 and batch / lat-comp 62999.9 fps disagree by 12 %"),  # 128000 / 2.03175
    (1000.0, 1, 1.0, None),  # 1 / 1 ms = 1000 fps
    (1049.0, 1, 1.0, None),  # 4.9 %: within the 5 % limit
    (1060.0, 1, 1.0, "fps-comp 1060 and batch / lat-comp 1000 fps disagree by 6 %"),
    (940.0, 2, 2.0, "disagree by 6 %"),  # 2 / 2 ms = 1000 fps
    (float("nan"), 1, 1.0, None), (1000.0, 1, None, None), (1000.0, 1, 0.0, None),
])
def test_throughput_note(fps, batch, latency_ms, expected):
    note = throughput_note(fps, batch, latency_ms)
    assert note == expected if expected is None else expected in note


def test_record_notes_join_known_and_disagreement():
    assert record_notes("ZCU104-FINN", "CNV", 1000.0, 1, 1.0) == FINN_NOTE
    assert record_notes("TX2-maxq", "MLP", 2000.0, 1, 1.0) == f"{TX2_MLP_NOTE}; fps-comp 2000 and batch / " \
        "lat-comp 1000 fps disagree by 100 %; throughput_fps is fps-comp"
    assert record_notes("TX2-maxq", "CNV", 1000.0, 1, 1.0) is None
    assert record_notes(pd.NA, "MLP", 1000.0, 1, 1.0) is None


@pytest.mark.parametrize(("pruning", "width", "spec_gop"), [(100, 2048, 0.02), (50, 1024, 0.006), (25, 512, 0.002)])
def test_mlp_ops_by_hand_and_the_rounding_its_spec_states(pruning, width, spec_gop):
    # 784-w-w-w-10 fully connected: MACs = 784 w + 2 w^2 + 10 w (first layer 784 w), ops = 2 x MACs
    macs = 784 * width + 2 * width * width + 10 * width
    layers = count_network(get_network(f"FINN-MLP {pruning}%")).layers
    fc = layers[layers.op == "fully_connected"]
    assert fc.macs.iloc[0] == 784 * width
    assert fc.macs.sum() == macs
    aggregate = get_network(f"MLP {pruning}%")
    assert aggregate.ops_per_frame == pytest.approx(spec_gop * 1e9)  # QuTiBench's history/GOPperNN.csv value
    if pruning != 100:  # 0.02 GOP is within 0.15 % of 20,029,440; the others' sources state the rounding
        assert f"the topology has {2 * macs:,} ops" in aggregate.source
        assert f"{spec_gop * 1e9 / (2 * macs):.3g}x low" in aggregate.source
