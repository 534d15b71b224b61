"""Findings of a design-space explorer's trial of the sweeps: groups with missing keys, NaN values, Pareto fronts
of many rows, typed errors for columns and axes that cannot be read. Expected values come from pandas on the
materialized table, brute force or hand arithmetic, never from the reductions under test."""

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.errors import SpecError
from rooflinekit.roofline import HardwareGrid
from rooflinekit.roofline.reductions import Best, Histogram, Pareto, nondominated

from conftest import brute_front

pytestmark = pytest.mark.filterwarnings("ignore::rooflinekit.CapacityWarning")

NETS = ["LeNet-MNIST", "ResNet-20-CIFAR-10", "CNV"]


def _mixed_space():
    """A grid with a clock axis beside two plain specs: ``clock_scale`` is NaN on the plain specs' rows."""
    grid = HardwareGrid.of(rk.get_hardware("NUCLEO-F767ZI"), peak_ops_per_s={"int8": [1e8, 1e9, 1e10]},
                           clock_scale=[0.5, 1.0])
    return NETS, [grid, "ZCU104-DPU", "EdgeTPU-fast"], ["int8"], [1, 3]


def _candidates(table):
    return table[(table.status == "ok") & table.fits.fillna(True).astype(bool)]


@pytest.mark.parametrize("chunk", [1, 5, 10**6])
def test_best_by_a_grid_axis_keeps_the_plain_specs_rows_as_a_group(chunk):
    full = rk.sweep(*_mixed_space())
    assert full.clock_scale.isna().sum() == 3 * 2 * 2  # 3 networks x 2 plain specs x 2 batches
    ok = _candidates(full)
    # independent: per clock value (NaN its own group), the first row at the least latency
    expected = sorted(ok.sort_values("latency_s", kind="stable").groupby(
        ok.clock_scale.astype(float).fillna(-1.0)).head(2).index)
    for result in (Best("latency_s", by="clock_scale", k=2)(full),
                   rk.sweep(*_mixed_space(), reduce=Best("latency_s", by="clock_scale", k=2), chunk_rows=chunk)):
        assert sorted(result.index) == expected
        assert result.clock_scale.isna().sum() == 2  # the plain specs' group, last
        assert result.clock_scale.iloc[-2:].isna().all()


@pytest.mark.parametrize("chunk", [1, 7, 10**6])
def test_histogram_by_a_grid_axis_counts_every_predicted_row(chunk):
    full = rk.sweep(*_mixed_space())
    edges = [1e-6, 1e-4, 1e-2, 1.0, 1e3]
    result = rk.sweep(*_mixed_space(), reduce=Histogram("latency_s", edges, by="clock_scale"), chunk_rows=chunk)
    ok = full[full.status == "ok"]
    assert edges[0] < ok.latency_s.min() and ok.latency_s.max() < edges[-1]
    assert result["count"].sum() == len(ok) == 3 * 8 * 2
    for clock, rows in ok.groupby(ok.clock_scale.astype(float).fillna(-1.0)):
        mine = result[result.clock_scale.isna()] if clock == -1.0 else result[result.clock_scale == clock]
        counts, _ = np.histogram(rows.latency_s, edges)
        assert dict(zip(mine.bin_low, mine["count"])) == {low: c for low, c in zip(edges, counts.tolist()) if c}


def test_histogram_counts_nan_apart_from_the_values_above_the_edges():
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 5.0, np.nan], "status": "ok"})
    result = Histogram("a", [0.0, 2.0, 4.0])(frame)
    # 1 in [0, 2); 3 in [2, 4]; 5 above; two NaN in their own bin, last
    assert result.bin_low.tolist()[:3] == [0.0, 2.0, 4.0] and result["count"].tolist() == [1, 1, 1, 2]
    assert np.isnan(result.bin_low.iloc[3]) and np.isnan(result.bin_high.iloc[3])
    assert result.bin_high.iloc[2] == np.inf


def test_best_and_pareto_leave_out_rows_with_nan_in_what_they_rank():
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 5.0], "b": [3.0, 0.0, np.nan, 1.0], "status": "ok", "fits": True})
    assert Best("a", k=4)(frame).index.tolist() == [0, 2, 3]
    assert Best("a", "max", k=4)(frame).index.tolist() == [3, 2, 0]
    # among the rows with both numbers, (1, 3) and (5, 1) dominate neither each other
    assert Pareto({"a": "min", "b": "min"})(frame).index.tolist() == [0, 3]


@pytest.mark.parametrize("objectives", [2, 3, 4])
def test_nondominated_equals_brute_force(objectives):
    rng = np.random.default_rng(objectives)
    for trial in range(60):
        points = rng.integers(0, 4, (int(rng.integers(0, 40)), objectives)).astype(float)  # many ties
        if trial % 3 == 0:
            points[rng.random(points.shape) < 0.1] = np.inf
        if trial % 2:
            points = -points
        assert (nondominated(points) == brute_front(points)).all()


def test_pareto_of_a_sweep_equals_brute_force_on_the_table():
    space = _mixed_space()
    full = rk.sweep(*space)
    ok = _candidates(full)
    points = np.column_stack([ok.latency_s, ok.peak_ops_per_s, -ok.fps])
    expected = sorted(ok.index[brute_front(points)])
    for chunk in (1, 4, 10**6):
        front = rk.sweep(*space, reduce=Pareto({"latency_s": "min", "peak_ops_per_s": "min", "fps": "max"}),
                         chunk_rows=chunk)
        assert sorted(front.index) == expected


def test_best_by_a_repeated_column_is_by_that_column():
    full = rk.sweep(*_mixed_space())
    ok = _candidates(full)
    best = Best("latency_s", by=["network", "network"])(full)
    assert best.index.tolist() == [ok[ok.network == n].latency_s.idxmin() for n in sorted(NETS)]


@pytest.mark.parametrize("make, message", [
    (lambda: Best("network")(rk.sweep(NETS, ["ZCU104-DPU"], ["int8"])),
     "Best reads column 'network', which does not hold numbers"),
    (lambda: rk.sweep(NETS, ["ZCU104-DPU"], ["int8"], reduce=Pareto({"latency_s": "min", "bound": "min"})),
     "Pareto reads column 'bound', which does not hold numbers"),
    (lambda: rk.sweep(NETS, ["ZCU104-DPU"], ["int8"], reduce=Histogram("hardware", [0.0, 1.0])),
     "Histogram reads column 'hardware', which does not hold numbers"),
    (lambda: Histogram("latency_s", ["fast", "slow"]), "Histogram: edges must be at least two increasing numbers"),
    (lambda: HardwareGrid.of(rk.get_hardware("NUCLEO-F767ZI"), peak_ops_per_s=[1e9, 1e10]),
     r"grid axis peak_ops_per_s must map a data type to its values, e.g. peak_ops_per_s=\{'int8'"),
    (lambda: HardwareGrid.of(rk.get_hardware("NUCLEO-F767ZI"), capacity_bytes=(1e5, 5e5, "lin", 3)),
     "grid axis capacity_bytes must map a memory level to its values"),
])
def test_typed_errors(make, message):
    with pytest.raises(SpecError, match=message):
        make()


def test_best_of_fits_over_a_sweep_with_failed_rows():
    # fits is missing on the rows that were not predicted (TX2 has no int8 peak): they are no candidates
    full = rk.sweep(["LeNet-MNIST"], ["TX2-maxn", "ZCU104-DPU"], ["int8"])
    assert full.status.tolist()[0] != "ok" and full.fits.isna().tolist() == [True, False]
    assert Best("fits", "max", fitting_only=False)(full).index.tolist() == [1]


@pytest.mark.parametrize("k", [1, 2, 50])
def test_dask_equals_local_for_groups_with_missing_keys(client, k):
    for reduce in (lambda: Best("latency_s", by="clock_scale", k=k),
                   lambda: Histogram("latency_s", [1e-6, 1e-3, 1.0], by=["clock_scale", "network"])):
        local = rk.sweep(*_mixed_space(), reduce=reduce(), chunk_rows=3)
        remote = rk.sweep(*_mixed_space(), reduce=reduce(), chunk_rows=5, engine="dask", scheduler=client,
                          partitions=3)
        pd.testing.assert_frame_equal(remote, local)
        assert local.clock_scale.isna().any()


@pytest.mark.parametrize("reduce", ["best", Best])
def test_dask_refuses_a_reduce_that_is_no_reduction(client, reduce):
    with pytest.raises(SpecError, match="reduce must be a reduction such as Best"):
        rk.sweep(NETS, ["ZCU104-DPU"], ["int8"], reduce=reduce, engine="dask", scheduler=client)


def test_grid_spec_predicts_every_row_of_a_multi_axis_grid():
    grid = HardwareGrid.of(rk.get_hardware("NUCLEO-F767ZI"), peak_ops_per_s={"int8": (1e8, 1e10, "log", 3)},
                           bandwidth_bytes_per_s={"Flash": (1e7, 1e9, "lin", 2)},
                           capacity_bytes={"SRAM": [3e5, 1e6]}, clock_scale=[0.5, 1.3])
    table = rk.sweep(["LeNet-MNIST"], [grid], ["int8"], [2], mode="layer", traffic="on_chip_if_fits")
    assert len(table) == grid.size == 24
    for i, point in itertools.islice(enumerate(table.itertuples()), 0, None, 5):
        p = rk.predict("LeNet-MNIST", grid.spec(i), "int8", 2, mode="layer", traffic="on_chip_if_fits")
        assert (point.latency_s, point.bytes, bool(point.fits)) == (p.latency_s, p.bytes, p.fits)


@pytest.mark.parametrize("reduce", ["best", Best])
def test_the_local_engine_refuses_a_reduce_that_is_no_reduction(reduce):
    """As the Dask engine does (the local one raised AttributeError: 'str' object has no attribute 'check')."""
    with pytest.raises(SpecError, match=r"^reduce must be a reduction such as Best\("):
        rk.sweep(["LeNet-MNIST"], ["NCS"], reduce=reduce)


def test_a_peak_axis_no_row_computes_in_is_said_once():
    """ResNet-20-CIFAR-10 and LeNet-MNIST are fp32 networks: a grid's int8 peak axis changes none of their rows
    (every row runs at the template's fp32 peak), which the sweep now says once; swept at int8, it is the axis."""
    grid = HardwareGrid.of(rk.get_hardware("NUCLEO-F767ZI"), peak_ops_per_s={"int8": [1e8, 1e10, "log", 3]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        idle = rk.sweep(["ResNet-20-CIFAR-10", "LeNet-MNIST"], [grid], chunk_rows=2)
    said = [str(w.message) for w in caught if issubclass(w.category, rk.RooflineWarning)]
    assert said == ["grid on NUCLEO-F767ZI: its peak axis for int8 changes nothing for networks computing in fp32; "
                    "sweep them at int8 (precisions=['int8']) or add a peak axis for their type"]
    assert idle.groupby("network")["latency_s"].nunique().tolist() == [1, 1]  # the same on every point
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        used = rk.sweep(["ResNet-20-CIFAR-10"], [grid], ["int8"])
    assert not [w for w in caught if "changes nothing" in str(w.message)]
    assert used["latency_s"].nunique() == 3
