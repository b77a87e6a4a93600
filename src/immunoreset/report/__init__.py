"""Reports: self-contained HTML documents with embedded plotly figures."""

from immunoreset.report.document import Document, Section
from immunoreset.report.figures import kaplan_meier_plot, swimmer_plot, trajectory_plot

__all__ = ["Document", "Section", "kaplan_meier_plot", "swimmer_plot", "trajectory_plot"]
