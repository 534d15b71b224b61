"""A design-space researcher's trial of the sweeps: huge grid axes, the capacity warning of a reduced sweep,
Pareto fronts over three or more objectives, and two-objective fronts with infinite values."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rooflinekit as rk
from rooflinekit.compare.pareto import pareto_front
from rooflinekit.errors import SpecError
from rooflinekit.roofline import HardwareGrid
from rooflinekit.roofline import reductions
from rooflinekit.roofline.grid import MAX_AXIS_POINTS, axis_values
from rooflinekit.roofline.reductions import Best, Histogram, Pareto, nondominated

from conftest import brute_front


# --- grid axes: a range too large to hold is refused before anything is allocated ---------------------------


def test_a_huge_range_axis_is_a_spec_error_naming_the_axis_size_and_limit():
    with pytest.raises(SpecError, match=r"grid axis peak_ops_per_s\.int8: a range of 1,000,000,000,000 points .*"
                                        r"\(10,000,000, MAX_AXIS_POINTS\); use fewer points.*reduce="):
        axis_values("peak_ops_per_s.int8", [1e12, 1e14, "log", 10**12])


def test_a_grid_with_a_range_one_past_the_limit_is_refused():
    assert MAX_AXIS_POINTS == 10**7  # the documented limit: 80 MB of float64 values
    template = rk.get_hardware("NUCLEO-F767ZI")
    with pytest.raises(SpecError, match=r"bandwidth_bytes_per_s\.Flash: a range of 10,000,001 points"):
        HardwareGrid.of(template, bandwidth_bytes_per_s={"Flash": (1e7, 1e9, "lin", MAX_AXIS_POINTS + 1)})


def test_a_large_grid_of_moderate_axes_is_still_accepted_lazily():
    grid = HardwareGrid.of(rk.get_hardware("NUCLEO-F767ZI"), peak_ops_per_s={"int8": (1e8, 1e10, "log", 10**4)},
                           clock_scale=(0.5, 2.0, "lin", 10**4))
    assert grid.size == 10**8 and grid.shape == (10**4, 10**4)


# --- the capacity warning of a reduced sweep counts the whole sweep ------------------------------------------

def _misfit_space():
    """2 networks x a 12-point grid (SRAM 20, 80, 140, 200 kB x flash 0.3, 0.95, 3 MB): 24 rows."""
    template = rk.get_hardware("NUCLEO-F767ZI")
    grid = HardwareGrid.of(template, capacity_bytes={"SRAM": (2e4, 2e5, "lin", 4), "Flash": (3e5, 3e6, "log", 3)})
    return ["ResNet-20-CIFAR-10", "LeNet-MNIST"], grid


def _misfits_by_predict(networks, grid):
    """Misfits counted with rk.predict on each point's explicit spec (independent of the sweep)."""
    return sum(rk.predict(n, grid.spec(i), "int8", mode="layer", traffic="weights_and_activations").fits is False
               for n in networks for i in range(grid.size))


@pytest.mark.parametrize("reduce", [lambda: Best("latency_s", by="network", fitting_only=False),
                                    lambda: Best("latency_s", by="network"),
                                    lambda: Pareto({"latency_s": "min", "capacity_bytes.SRAM": "min"},
                                                   fitting_only=False),
                                    lambda: Histogram("latency_s", [1e-6, 1e-3, 1.0])])
def test_reduced_sweep_warns_with_the_misfits_of_the_whole_sweep(reduce):
    networks, grid = _misfit_space()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _misfits_by_predict(networks, grid)
    # by hand: ResNet-20's first stage holds two 16 x 32 x 32 int8 maps (32 kB) that a 20 kB SRAM cannot, at
    # each of the 3 flash sizes; 80 kB and up hold them, and LeNet-MNIST fits everywhere
    assert expected == 3
    with pytest.warns(rk.CapacityWarning, match=r"^3 of 24 swept predictions do not fit their memories \(counted "
                                                r"over the whole sweep"):
        result = rk.sweep(networks, [grid], ["int8"], mode="layer", traffic="weights_and_activations",
                          reduce=reduce(), chunk_rows=5)
    assert result.attrs == {"swept_rows": 24, "swept_misfits": 3}


def test_reduced_sweep_without_misfits_does_not_warn():
    networks, grid = _misfit_space()
    with warnings.catch_warnings():
        warnings.simplefilter("error", rk.CapacityWarning)
        result = rk.sweep(networks[1:], [grid], ["int8"], mode="layer", traffic="weights_and_activations",
                          reduce=Best("latency_s"))
    assert result.attrs == {"swept_rows": 12, "swept_misfits": 0}


def test_reduced_sweep_over_no_fitting_row_reports_them_all():
    template = rk.get_hardware("NUCLEO-F767ZI")
    grid = HardwareGrid.of(template, capacity_bytes={"SRAM": [1e3, 2e3, 3e3]})  # far below 32 kB of activations
    with pytest.warns(rk.CapacityWarning, match=r"^3 of 3 swept predictions .* not only the 0 rows Best returned"):
        result = rk.sweep(["ResNet-20-CIFAR-10"], [grid], ["int8"], mode="layer",
                          traffic="weights_and_activations", reduce=Best("latency_s"))
    assert result.empty and result.attrs["swept_misfits"] == 3


def test_dask_reduced_sweep_counts_the_misfits_of_every_partition(client):
    networks, grid = _misfit_space()
    with pytest.warns(rk.CapacityWarning, match=r"^3 of 24 swept predictions"):
        remote = rk.sweep(networks, [grid], ["int8"], mode="layer", traffic="weights_and_activations",
                          reduce=Best("latency_s", by="network", fitting_only=False), chunk_rows=5,
                          engine="dask", scheduler=client, partitions=2)
    assert remote.attrs == {"swept_rows": 24, "swept_misfits": 3}


@pytest.mark.parametrize("reduce", [lambda: Best("latency_s", by="network", k=5),
                                    lambda: Pareto({"latency_s": "min", "ops": "min", "bytes": "min"}),
                                    lambda: Histogram("latency_s", [0.0, 1.0])])
def test_dask_reduction_of_no_networks_has_the_in_process_columns(client, reduce):
    local = rk.sweep([], ["EdgeTPU-fast"], reduce=reduce())
    remote = rk.sweep([], ["EdgeTPU-fast"], reduce=reduce(), engine="dask", scheduler=client)
    assert remote.empty and list(remote.columns) == list(local.columns) and len(local.columns) >= 3
    assert remote.attrs == local.attrs == {"swept_rows": 0, "swept_misfits": 0}


# --- Pareto fronts over three or more objectives -------------------------------------------------------------

values = st.one_of(st.integers(-2, 2).map(float), st.sampled_from([np.inf, -np.inf, -0.0, 0.5]))


@settings(max_examples=300, deadline=None)
@given(st.integers(3, 5).flatmap(lambda m: st.lists(st.lists(values, min_size=m, max_size=m), max_size=60)),
       st.integers(1, 9), st.integers(1, 5), st.integers(1, 40))
def test_front_of_three_or_more_objectives_equals_brute_force(rows, block, sub_block, piece):
    points = np.array(rows, dtype=np.float64).reshape(len(rows), -1 if rows else 3)
    with pytest.MonkeyPatch.context() as patch:  # small blocks, runs and pieces: every path of the search
        patch.setattr(reductions, "FRONT_BLOCK", max(block, sub_block))
        patch.setattr(reductions, "FRONT_SUB_BLOCK", sub_block)
        patch.setattr(reductions._Pile, "PIECE_ELEMENTS", piece)
        assert (nondominated(points) == brute_front(points)).all()


@pytest.mark.parametrize("objectives", [3, 4, 6])
def test_front_of_many_points_equals_brute_force(objectives):
    rng = np.random.default_rng(objectives)
    points = rng.integers(0, 6, (3000, objectives)).astype(np.float64)  # many ties and many blocks
    plane = rng.random((1500, objectives - 1))
    anti = np.column_stack([plane, -plane.sum(axis=1)])  # every point on the front
    for case in (points, anti, np.concatenate([anti, anti[:100]])):
        assert (nondominated(case) == brute_front(case)).all()


def test_three_objective_pareto_of_a_sweep_streamed_in_chunks_equals_brute_force():
    grid = HardwareGrid.of(rk.get_hardware("NUCLEO-F767ZI"), peak_ops_per_s={"int8": (1e8, 1e10, "log", 6)},
                           bandwidth_bytes_per_s={"Flash": (1e7, 1e9, "log", 5)})
    networks = ["LeNet-MNIST", "ResNet-20-CIFAR-10"]
    objectives = {"latency_s": "min", "peak_ops_per_s.int8": "min", "bandwidth_bytes_per_s.Flash": "min"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rk.CapacityWarning)
        table = rk.sweep(networks, [grid, "EdgeTPU-fast"], ["int8"], [1, 4])
        streamed = rk.sweep(networks, [grid, "EdgeTPU-fast"], ["int8"], [1, 4], reduce=Pareto(objectives),
                            chunk_rows=7)
    ok = table[(table.status == "ok") & table.fits.fillna(True).astype(bool)]
    ok = ok[ok[list(objectives)].notna().all(axis=1)]  # the plain spec has no grid axes: NaN there
    expected = ok.index[brute_front(ok[list(objectives)].to_numpy(dtype=np.float64))]
    assert sorted(streamed.index) == sorted(expected) and len(expected) > 1


# --- two-objective fronts with infinite values ---------------------------------------------------------------

def test_pareto_front_keeps_the_fastest_row_at_minus_infinite_accuracy():
    frame = pd.DataFrame({"latency_s": [1.0, 2.0, 3.0], "accuracy": [-np.inf, 0.5, 0.4]})
    # row 0 is the fastest, row 1 the most accurate; row 2 is slower and less accurate than row 1
    assert pareto_front(frame, "latency_s", "accuracy").index.tolist() == [0, 1]


def test_pareto_front_keeps_a_lone_row_at_infinite_latency():
    frame = pd.DataFrame({"latency_s": [np.inf, np.inf], "accuracy": [0.5, 0.4]})
    assert pareto_front(frame, "latency_s", "accuracy").index.tolist() == [0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(values, values), max_size=40), st.tuples(st.booleans(), st.booleans()))
def test_pareto_front_with_infinite_values_equals_brute_force(rows, maximize):
    frame = pd.DataFrame(rows, columns=["x", "y"], dtype="float64")
    signs = np.array([-1.0 if m else 1.0 for m in maximize])
    expected = np.flatnonzero(brute_front(frame.to_numpy().reshape(-1, 2) * signs))
    assert pareto_front(frame, "x", "y", maximize=maximize).index.tolist() == expected.tolist()


# --- NAS-Bench-201 layer unions: odd collections of architectures --------------------------------------------

ARCH = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def test_layer_union_of_no_architecture_says_so():
    from rooflinekit.networks.nb201 import nb201_layer_union

    for empty in ([], np.array([], dtype=str)):
        with pytest.raises(SpecError, match="^nb201_layer_union needs at least one architecture string, got none$"):
            nb201_layer_union(empty)


def test_layer_union_of_a_single_string_asks_for_a_list():
    from rooflinekit.networks.nb201 import nb201_layer_union

    with pytest.raises(SpecError, match=r"takes a list of architecture strings, got the string .*wrap it in a list"):
        nb201_layer_union(ARCH)


def test_layer_union_of_a_series_of_architectures():
    from rooflinekit.networks.nb201 import nb201_layer_union, nb201_network

    union, incidence = nb201_layer_union(pd.Series([ARCH, ARCH]))
    # the same network twice: every one of its layers once in the union, and each row runs all of them
    assert len(union.layers) == len(nb201_network(ARCH).layers) and (incidence == 1).all()
