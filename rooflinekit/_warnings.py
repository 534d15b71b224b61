"""Where a warning points: at the user's line that called into rooflinekit, however deep the warning is raised."""

from __future__ import annotations

import os
import sys

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def caller_stacklevel() -> int:
    """The ``stacklevel`` for :func:`warnings.warn`, called in the function that calls this one, that names the
    first frame outside this package: the user's line (or the command line's entry point) that called in.

    ``stacklevel`` 1 is the function that warns, 2 its caller, and so on; every frame of a module of this package
    is passed over, so a warning raised three calls deep under :func:`rooflinekit.predict` and one raised in a
    method the user called directly both point at the user's line.
    """
    frame = sys._getframe(1)  # the function that warns
    level = 1
    while frame.f_back is not None and frame.f_back.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level + 1
