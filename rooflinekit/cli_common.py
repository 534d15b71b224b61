"""Pieces shared by the command-line modules: the parser class, option groups and argument parsing."""

from __future__ import annotations

import argparse
import math
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence

from rooflinekit._limits import MAX_BATCH, MAX_DIM, shown
from rooflinekit.errors import RooflineWarning, SpecError

if TYPE_CHECKING:
    import pandas as pd

    from rooflinekit.descriptors import HardwareSpec, NetworkSpec

FORMATS = ("table", "csv", "json")
DEFAULT_TRAFFIC = "weights_only"
"""The memory-traffic assumption of ``--traffic`` when it is not given (as QuTiBench)."""


_GIVEN = "_rooflinekit_given"
"""Namespace attribute in which :class:`_StoreOnce` keeps the options given so far (removed after parsing)."""


class _StoreOnce(argparse._StoreAction):
    """argparse's ``store``, refusing an option given twice with different values (``--hardware A --hardware B``),
    of which argparse would keep the last without a word; the same value twice is accepted."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        given: dict[str, Any] = namespace.__dict__.setdefault(_GIVEN, {})
        if option_string is not None and self.dest in given and given[self.dest] != values:
            raise argparse.ArgumentError(self, f"{option_string} is given twice, {shown(str(given[self.dest]))} "
                                               f"and {shown(str(values))}; give it once")
        given[self.dest] = values
        super().__call__(parser, namespace, values, option_string)


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr with exit status 2, and which refuses an
    option given twice with different values."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        parsed.__dict__.pop(_GIVEN, None)
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"rooflinekit: error: {message} (see 'rooflinekit --help')\n")


def format_options() -> Parser:
    parent = Parser(add_help=False)
    parent.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parent.add_argument("--wide", action="store_true",
                        help="table format: every column and full cells (default: at most 120 characters wide)")
    parent.add_argument("--quiet", "-q", action="store_true", help="no progress bars and no warnings on stderr")
    return parent


def model_options() -> Parser:
    """MODEL and the options that shape it: precision, batch, input shapes."""
    parent = Parser(add_help=False)
    parent.add_argument("model", help="catalog name (e.g. 'ResNet-50 80%%') or model file (.onnx, .tflite)")
    parent.add_argument("--precision", help="re-type all tensors, e.g. int8, fp16, W-int8_A-fp32")
    parent.add_argument("--batch", type=bounded_int("--batch", 1, MAX_BATCH), default=None,
                        help="frames per batch, the leading input dim (default: the model's own, 1 when symbolic; "
                             "a leading dim of --input-shape sets it too)")
    parent.add_argument("--input-shape", action="append", default=[], metavar="NAME=DIMS",
                        help="bind a model input's shape, e.g. input=8,3,224,224: its leading dim is the batch "
                             "(repeatable)")
    parent.add_argument("--branch", action="append", default=[], metavar="NODE=then|else",
                        help="ONNX: the If branch to count, by node name (default: the branch a constant condition "
                             "takes, else the more expensive one, warned about; repeatable)")
    parent.add_argument("--loop-count", action="append", default=[], metavar="NODE=N",
                        help="ONNX: the trip count of a Loop, or the length of a Scan, whose count is known only at "
                             "run time, by node name (repeatable)")
    return parent


def traffic_options() -> Parser:
    from rooflinekit.roofline import TRAFFIC_MODELS

    parent = Parser(add_help=False)
    parent.add_argument("--traffic", choices=list(TRAFFIC_MODELS), default=DEFAULT_TRAFFIC,
                        help=f"memory-traffic assumption (default {DEFAULT_TRAFFIC}, as QuTiBench)")
    return parent


def roofline_options() -> Parser:
    """--mode and --traffic, as predict takes them."""
    from rooflinekit.roofline import MODES

    parent = Parser(add_help=False, parents=[traffic_options()])
    parent.add_argument("--mode", choices=MODES, default="network", help="whole network or per layer")
    parent.add_argument("--no-fusion", dest="fuse", action="store_false",
                        help="cost every layer as its own kernel (default: elementwise, norm and activation layers "
                             "fold into the layer that produces their input)")
    return parent


def warn_failed(table: pd.DataFrame, note: str = "the 'status' column") -> None:
    """Warn, once, of the rows of a sweep ``table`` whose ``status`` is not ``ok``: how many, and the first reason.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`~rooflinekit.sweep` table (column ``status``: ``ok`` or why the row was not predicted).
    note : str, optional
        Where the failed rows are, or what became of them (``not drawn``).
    """
    failed = table["status"] != "ok"
    if failed.any():
        first = table.loc[failed, "status"].iloc[0]
        warnings.warn(f"{int(failed.sum())} of {len(table)} predictions failed ({note}), e.g. {first}",
                      RooflineWarning, stacklevel=2)


def split_list(value: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; None -> ``[]``."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


_DIGITS = re.compile(r"[0-9]+")
_DIM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _dim(token: str, value: str) -> int | str:
    """One dim of ``--input-shape``: ASCII digits (1 to :data:`MAX_DIM`) or a symbolic dim name."""
    token = token.strip()
    if _DIGITS.fullmatch(token):
        number = int(token) if len(token) <= 20 else MAX_DIM + 1
        if not 1 <= number <= MAX_DIM:
            raise SpecError(f"--input-shape {shown(value)}: dim {shown(token, 24)} is out of range; a dim is a whole "
                            f"number from 1 to {MAX_DIM}")
        return number
    if _DIM_NAME.fullmatch(token):
        return token
    raise SpecError(f"--input-shape {shown(value)}: dim {shown(token, 24)} is neither a positive whole number (ASCII "
                    "digits) nor a dim name (letters, digits, '_'); write e.g. input=1,3,224,224")


def parse_input_shapes(values: Sequence[str]) -> dict[str, list[int | str]]:
    """``["input=1,3,224,224"]`` -> ``{"input": [1, 3, 224, 224]}``; a dim that is a name stays a name.

    Raises
    ------
    SpecError
        A value without ``NAME=``, an input named twice, an empty dim, a dim out of 1 .. ``MAX_DIM``, or a dim
        that is neither ASCII digits nor a name (``-1``, ``²``, ``2**70``).
    """
    shapes: dict[str, list[int | str]] = {}
    for value in values:
        name, sep, dims = value.partition("=")
        if not sep or not name or not dims:
            raise SpecError(f"--input-shape {shown(value)}: write NAME=D1,D2,... e.g. input=1,3,224,224")
        if name in shapes:
            raise SpecError(f"--input-shape {shown(value)}: input {shown(name)} is given twice; give each input "
                            "once")
        shapes[name] = [_dim(d, value) for d in dims.replace("x", ",").split(",")]
    return shapes


def parse_node_options(values: Sequence[str], option: str) -> dict[str, str]:
    """``["If_0=else"]`` -> ``{"If_0": "else"}``: ``NODE=VALUE`` entries of ``option`` by node name (the value is
    checked where it is used).

    Raises
    ------
    SpecError
        A value without ``NODE=`` or a value, or a node named twice.
    """
    entries: dict[str, str] = {}
    for value in values:
        name, sep, given = value.rpartition("=")
        if not sep or not name or not given:
            raise SpecError(f"{option} {shown(value)}: write NODE=VALUE with the node's name in the model, e.g. "
                            f"{option} If_0=else")
        if name in entries:
            raise SpecError(f"{option} {shown(value)}: node {shown(name)} is given twice; give each node once")
        entries[name] = given
    return entries


def parse_loop_counts(values: Sequence[str]) -> dict[str, int]:
    """``["steps=5"]`` -> ``{"steps": 5}`` (:func:`parse_node_options`; a count is a whole number, 0 .. MAX_DIM).

    Raises
    ------
    SpecError
        What :func:`parse_node_options` raises, or a count that is not a whole number in range.
    """
    counts: dict[str, int] = {}
    for name, count in parse_node_options(values, "--loop-count").items():
        if not (count.isascii() and count.isdigit() and int(count) <= MAX_DIM):
            raise SpecError(f"--loop-count {shown(name)}={shown(count, 24)}: a count is a whole number from 0 to "
                            f"{MAX_DIM}")
        counts[name] = int(count)
    return counts


def bounded_int(option: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type`` reading a whole number from ``low`` to ``high``; anything else is a usage error that
    names ``option`` and the value.

    Parameters
    ----------
    option : str
        The option's name for the message (``--batch``).
    low, high : int
        Inclusive bounds.

    Returns
    -------
    Callable
        The converter.
    """
    def convert(text: str) -> int:
        token = text.strip()
        if not re.fullmatch(r"[+-]?[0-9]{1,20}", token) or not low <= int(token) <= high:
            raise argparse.ArgumentTypeError(f"{option} {shown(text, 30)}: give a whole number from {low} to {high}")
        return int(token)

    return convert


def positive_float(option: str) -> Callable[[str], float]:
    """An argparse ``type`` reading a positive, finite number; anything else (``0``, ``-1``, ``nan``, ``inf``,
    ``abc``) is a usage error that names ``option`` and the value.

    Parameters
    ----------
    option : str
        The option's name for the message (``--shrinkage``).

    Returns
    -------
    Callable
        The converter.
    """
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"{option} {shown(text, 30)}: give a positive number, e.g. 0.5")
        return value

    return convert


def positive_time(option: str) -> Callable[[str], float]:
    """An argparse ``type`` reading a positive, finite time in seconds: a bare number is in s, a unit may be given
    (``10us`` = 1e-5 s, ``1 ms`` = 1e-3 s; :func:`~rooflinekit.units.parse_quantity`); anything else (``0``,
    ``-1 ms``, ``5 MB``, ``abc``) is a usage error that names ``option`` and the value.

    Parameters
    ----------
    option : str
        The option's name for the message (``--kernel-overhead``).

    Returns
    -------
    Callable
        The converter, returning seconds.
    """
    from rooflinekit.errors import UnitError
    from rooflinekit.units import parse_quantity

    def convert(text: str) -> float:
        try:
            value = parse_quantity(text, "s")
        except UnitError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"{option} {shown(text, 30)}: give a positive time, in s or with a "
                                             "unit, e.g. 10us or 1e-5")
        return value

    return convert


def output_file(text: str) -> Path:
    """An argparse ``type`` for ``--out``: a file whose folder exists, checked before any work is done."""
    path = Path(text)
    folder = path.parent if str(path.parent) else Path(".")
    if not text or not folder.is_dir():
        raise argparse.ArgumentTypeError(f"--out {shown(text)}: the folder {shown(str(folder))} does not exist; "
                                         "create it or write elsewhere")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"--out {shown(text)} is a folder; give a file name")
    return path


def resolve_hardware(name: str, option: str = "--hardware") -> HardwareSpec:
    """A hardware YAML file (``.yaml``/``.yml``, one spec) or a catalog hardware name or alias.

    Parameters
    ----------
    name : str
        ``my_npu.yaml`` or ``A100-SXM4-40GB``.
    option : str
        How the command line took ``name`` (``--hardware``, ``hardware show``), for the error of a missing file.

    Returns
    -------
    HardwareSpec
        The spec.

    Raises
    ------
    SpecError
        A YAML path that is not a file, or a file that is not one valid spec (one line per failed field).
    UnknownNameError
        A name the catalog lacks, with the close names.
    """
    from rooflinekit.api import HARDWARE_SUFFIXES, resolve_hardware as resolve
    from rooflinekit.display import absent

    path = Path(name)
    if path.suffix.lower() in HARDWARE_SUFFIXES and not path.is_file():
        raise SpecError(f"{option} {name}: {absent(path)}; give a "
                        "hardware YAML file (see 'rooflinekit hardware schema') or a catalog name ('rooflinekit "
                        "hardware list')")
    return resolve(path if path.suffix.lower() in HARDWARE_SUFFIXES else name)


def is_model_file(model: str) -> bool:
    """Whether MODEL names a model file (by suffix or existence) rather than a catalog network."""
    from rooflinekit.importers import MODEL_SUFFIXES

    path = Path(model)
    return path.suffix.lower() in MODEL_SUFFIXES or path.is_file()


def resolve_model(model: str, batch: int | None = None, input_shapes: Sequence[str] = (),
                  framework: str | None = None, branches: Sequence[str] = (),
                  loop_counts: Sequence[str] = ()) -> NetworkSpec:
    """A model file imported at ``batch`` and ``input_shapes`` (see :func:`~rooflinekit.importers.load_model`), or
    a NAS-Bench-201 architecture string or a catalog network (:func:`~rooflinekit.api.named_network`; the batch is
    applied when counting or predicting).

    Parameters
    ----------
    model : str
        A model file (by suffix or existence), a NAS-Bench-201 architecture string
        (``|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|...|``) or a catalog name.
    batch : int or None, optional
        The batch a model file is imported at; None: its own, or the leading dim of ``input_shapes``.
    input_shapes : sequence of str, optional
        ``NAME=D1,D2,...`` entries for a model file.
    framework : str, optional
        The software stack a NAS-Bench-201 architecture is built for (:func:`~rooflinekit.api.named_network`).
    branches, loop_counts : sequence of str, optional
        ``NODE=then|else`` and ``NODE=N`` entries for an ONNX model file (``--branch``, ``--loop-count``).

    Returns
    -------
    NetworkSpec
        The network; a model file's ``LayerNetwork.batch`` is its batch.

    Raises
    ------
    SpecError
        A malformed ``--input-shape``, ``--branch`` or ``--loop-count``, any of them for a catalog network, or an
        architecture string that does not parse (an unknown op: named with the allowed ones).
    UnknownNameError
        A name the catalog lacks, with the close names.
    """
    from rooflinekit.api import named_network
    from rooflinekit.importers import load_model

    shapes = parse_input_shapes(input_shapes)
    chosen, counts = parse_node_options(branches, "--branch"), parse_loop_counts(loop_counts)
    if is_model_file(model):
        return load_model(Path(model), batch=batch, input_shapes=shapes or None, branches=chosen or None,
                          loop_counts=counts or None)
    if shapes:
        raise SpecError(f"--input-shape applies to model files; {model!r} is a catalog network with fixed shapes")
    if chosen or counts:
        raise SpecError(f"--branch and --loop-count apply to ONNX model files; {model!r} is a catalog network")
    return named_network(model, framework)  # through the catalog index: one entry validated, not the catalog
