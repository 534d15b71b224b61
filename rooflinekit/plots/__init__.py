"""Charts of predictions and measurements.

matplotlib is the optional ``plot`` extra: ``pip install "rooflinekit[plot]"``.

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot (no GUI backend is selected), and
accepts ``ax=`` to draw into an existing axes instead. matplotlib is imported only when a chart is drawn; when it
is missing the chart raises :class:`PlotDependencyError`. Write a figure with :func:`save_figure`.

- :func:`plot_roofline`: ceilings per data type and slopes per memory level, networks placed on them
- :func:`plot_efficiency`: predicted, peak and measured throughput per configuration, with efficiency in percent
- :func:`plot_measured_vs_predicted`: measured against predicted values on log axes, with intervals, per device
- :func:`plot_heatmap`: predicted throughput, hardware x network variant
- :func:`plot_pareto`: two objectives, e.g. accuracy vs throughput or latency vs energy, with the Pareto front
- :func:`plot_layers`: predicted (and measured) latency per layer, coloured by what bounds each layer
"""

from rooflinekit.plots._common import PlotDependencyError, PlotError, save_figure
from rooflinekit.plots.efficiency import plot_efficiency, plot_measured_vs_predicted
from rooflinekit.plots.heatmap import plot_heatmap
from rooflinekit.plots.layers import plot_layers
from rooflinekit.plots.pareto import plot_pareto
from rooflinekit.plots.roofline import plot_roofline

__all__ = ["PlotDependencyError", "PlotError", "plot_efficiency", "plot_heatmap", "plot_layers",
           "plot_measured_vs_predicted", "plot_pareto", "plot_roofline", "save_figure"]
