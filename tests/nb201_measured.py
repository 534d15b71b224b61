"""NAS-Bench-201 latencies a NAS researcher measured on their own CPUs, shared by the NAS trial's tests: eight
architectures of ``../shared/data/nb201`` (indices 1-8) with their Raspberry Pi 4 and Pixel 3 latencies (ms), as the
data set gives them, written as the researcher's own CSV or as records."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ARCH = "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|"
CONSTANT = "|none~0|+|none~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|none~2|"  # node 3 never sees node 0
MEASURED = [
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", 54.777, 17.238),
    ("|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|", 50.409, 15.723),
    ("|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|", 2.924, 1.0626),
    ("|skip_connect~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|skip_connect~1|nor_conv_1x1~2|", 7.5824, 2.3542),
    ("|nor_conv_3x3~0|+|none~0|none~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|", 54.294, 17.066),
    ("|none~0|+|skip_connect~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|", 38.977, 12.221),
    ("|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|skip_connect~0|none~1|nor_conv_3x3~2|", 24.848, 7.8815),
    ("|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|", 20.098, 6.0001),
]
"""(architecture string, Raspberry Pi 4 latency ms, Pixel 3 latency ms)."""


def write_table(path: Path) -> Path:
    """The researcher's own CSV: ``arch, device, batch, latency_ms``, one row per (architecture, device)."""
    rows = [f"{arch},{device},1,{ms}" for arch, raspi, pixel in MEASURED
            for device, ms in (("Raspberry Pi 4", raspi), ("Pixel 3", pixel))]
    path.write_text("arch,device,batch,latency_ms\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def measured_records(devices: tuple[str, str] = ("raspi4", "pixel3")) -> pd.DataFrame:
    """The measurements as records (``hardware``, ``network``, ``precision`` fp32, ``batch`` 1, ``latency_s``), the
    two devices named ``devices`` (Raspberry Pi 4's name first)."""
    return pd.DataFrame([{"hardware": device, "network": arch, "precision": "fp32", "batch": 1, "latency_s": ms / 1e3}
                         for arch, raspi, pixel in MEASURED for device, ms in zip(devices, (raspi, pixel))])
