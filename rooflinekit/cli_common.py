"""Pieces shared by the command-line modules: the parser class, option groups and argument parsing."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn, Sequence

from rooflinekit.catalog import network_catalog
from rooflinekit.descriptors import NetworkSpec
from rooflinekit.errors import SpecError
from rooflinekit.importers import MODEL_SUFFIXES, load_model
from rooflinekit.roofline import MODES, TRAFFIC_MODELS

FORMATS = ("table", "csv", "json")


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr with exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"rooflinekit: error: {message} (see 'rooflinekit --help')\n")


def format_options() -> Parser:
    parent = Parser(add_help=False)
    parent.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    return parent


def model_options() -> Parser:
    """MODEL and the options that shape it: precision, batch, input shapes."""
    parent = Parser(add_help=False)
    parent.add_argument("model", help="catalog name (e.g. 'ResNet-50 80%%') or model file (.onnx, .tflite)")
    parent.add_argument("--precision", help="re-type all tensors, e.g. int8, fp16, W-int8_A-fp32")
    parent.add_argument("--batch", type=int, default=None,
                        help="frames per batch, the leading input dim (default: the model's own, 1 when symbolic; "
                             "a leading dim of --input-shape sets it too)")
    parent.add_argument("--input-shape", action="append", default=[], metavar="NAME=DIMS",
                        help="bind a model input's shape, e.g. input=8,3,224,224: its leading dim is the batch "
                             "(repeatable)")
    return parent


def traffic_options() -> Parser:
    parent = Parser(add_help=False)
    parent.add_argument("--traffic", choices=list(TRAFFIC_MODELS), default="weights_only",
                        help="memory-traffic assumption (default weights_only, as QuTiBench)")
    return parent


def roofline_options() -> Parser:
    """--mode and --traffic, as predict takes them."""
    parent = Parser(add_help=False, parents=[traffic_options()])
    parent.add_argument("--mode", choices=MODES, default="network", help="whole network or per layer")
    parent.add_argument("--no-fusion", dest="fuse", action="store_false",
                        help="cost every layer as its own kernel (default: elementwise, norm and activation layers "
                             "fold into the layer that produces their input)")
    return parent


def split_list(value: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; None -> ``[]``."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def parse_input_shapes(values: Sequence[str]) -> dict[str, list[int | str]]:
    """``["input=1,3,224,224"]`` -> ``{"input": [1, 3, 224, 224]}``; a non-numeric dim stays a name."""
    shapes: dict[str, list[int | str]] = {}
    for value in values:
        name, sep, dims = value.partition("=")
        if not sep or not name or not dims:
            raise SpecError(f"--input-shape {value!r}: write NAME=D1,D2,... e.g. input=1,3,224,224")
        shapes[name] = [int(d) if d.strip().isdigit() else d.strip() for d in dims.replace("x", ",").split(",")]
    return shapes


def is_model_file(model: str) -> bool:
    """Whether MODEL names a model file (by suffix or existence) rather than a catalog network."""
    path = Path(model)
    return path.suffix.lower() in MODEL_SUFFIXES or path.is_file()


def resolve_model(model: str, batch: int | None = None, input_shapes: Sequence[str] = ()) -> NetworkSpec:
    """A model file imported at ``batch`` and ``input_shapes`` (see :func:`~rooflinekit.importers.load_model`), or
    a catalog network (whose batch is applied when counting or predicting).

    Parameters
    ----------
    model : str
        A model file (by suffix or existence) or a catalog name.
    batch : int or None, optional
        The batch a model file is imported at; None: its own, or the leading dim of ``input_shapes``.
    input_shapes : sequence of str, optional
        ``NAME=D1,D2,...`` entries for a model file.

    Returns
    -------
    NetworkSpec
        The network; a model file's ``LayerNetwork.batch`` is its batch.

    Raises
    ------
    SpecError
        A malformed ``--input-shape``, or input shapes for a catalog network.
    """
    shapes = parse_input_shapes(input_shapes)
    if is_model_file(model):
        return load_model(Path(model), batch=batch, input_shapes=shapes or None)
    if shapes:
        raise SpecError(f"--input-shape applies to model files; {model!r} is a catalog network with fixed shapes")
    return network_catalog().get(model)
