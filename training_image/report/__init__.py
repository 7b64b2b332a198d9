"""Self-contained HTML reports (data and training): inline CSS and SVG, every value escaped."""

from __future__ import annotations

from training_image.report.eda import SAMPLE_ROWS, eda_report
from training_image.report.training import training_report

__all__ = ["SAMPLE_ROWS", "eda_report", "training_report"]
