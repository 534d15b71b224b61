"""The Dask engine gives the in-process engine's results (a LocalCluster of two worker processes)."""

import sys

import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.errors import SpecError
from rooflinekit.roofline import HardwareGrid
from rooflinekit.roofline.reductions import Best, Histogram, Pareto

pytestmark = pytest.mark.filterwarnings("ignore::rooflinekit.CapacityWarning")

NETS = ["LeNet-MNIST", "ResNet-20-CIFAR-10", "CNV", "ResNet-50", "MobileNetv1", "FINN-CNV"]


def _space():
    hardware = [rk.get_hardware(h) for h in ("ZCU104-DPU", "NUCLEO-F767ZI", "TX2-maxn", "Jetson AGX Orin 64GB")]
    hardware.append(HardwareGrid.of(rk.get_hardware("ZCU104-DPU"), clock_scale=[0.5, 1.0, 2.0],
                                    bandwidth_bytes_per_s={"DRAM": (1e9, 1e11, "log", 3)}))
    return [rk.get_network(n) for n in NETS], hardware, ["int8", None], [1, 4, 16]


def _plain(table):
    return table.astype({c: object for c in table.columns
                         if isinstance(table[c].dtype, (pd.CategoricalDtype, pd.StringDtype))})


@pytest.mark.parametrize("reduce", [lambda: Best("latency_s", by="network"), lambda: Best("fps", "max", k=5),
                                    lambda: Pareto({"latency_s": "min", "peak_ops_per_s": "min"}),
                                    lambda: Histogram("latency_s", [1e-6, 1e-4, 1e-2, 1.0], by="hardware")])
def test_dask_reduction_equals_in_process(client, reduce):
    networks, hardware, precisions, batches = _space()
    local = rk.sweep(networks, hardware, precisions, batches, reduce=reduce(), chunk_rows=50)
    remote = rk.sweep(networks, hardware, precisions, batches, reduce=reduce(), chunk_rows=13, engine="dask",
                      scheduler=client, partitions=4)
    pd.testing.assert_frame_equal(remote, local)


def test_dask_rows_equal_in_process(client):
    networks, hardware, precisions, batches = _space()
    local = rk.sweep(networks, hardware, precisions, batches, mode="layer", traffic="weights_and_activations")
    remote = rk.sweep(networks, hardware, precisions, batches, mode="layer", traffic="weights_and_activations",
                      engine="dask", scheduler=client, partitions=3)
    if not isinstance(remote, pd.DataFrame):  # a lazy Dask DataFrame where dask.dataframe is installed
        remote = remote.compute()
    pd.testing.assert_frame_equal(remote, _plain(local))


def test_dask_errors(client):
    from rooflinekit.roofline.dask_engine import sweep_dask

    networks, hardware, _, _ = _space()
    with pytest.raises(SpecError, match="partitions must be a positive integer, got 0"):
        sweep_dask(networks, hardware, scheduler=client, partitions=0)


def test_dask_engine_without_the_extra(monkeypatch):
    from rooflinekit.roofline.dask_engine import sweep_dask

    networks, hardware, _, _ = _space()
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(SpecError, match=r"engine 'dask' needs the dask extra: pip install \"rooflinekit\[dask\]\""):
        sweep_dask(networks, hardware)


def test_dask_in_a_script_without_main_guard_says_what_to_do(tmp_path):
    """The workers of an own LocalCluster import the script again; a sweep at its top level cannot start them."""
    pytest.importorskip("distributed")
    import subprocess

    script = tmp_path / "unguarded.py"
    script.write_text("import rooflinekit as rk\n"
                      "rk.sweep(['LeNet-MNIST'], ['ZCU104-DPU'], ['int8'], engine='dask')\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode != 0
    assert last.startswith("rooflinekit.errors.SpecError: engine='dask' could not start a local cluster")
    assert "if __name__ == \"__main__\":" in last
