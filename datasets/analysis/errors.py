"""The one exception the analyzer raises for a file it will not accept.

It is the shared sniffer's (`training_image.csv_dialect.CsvRejected`): a file the
analysis refuses is refused with the same message by the training container.
"""

from __future__ import annotations

from training_image.csv_dialect import CsvRejected

__all__ = ["CsvRejected"]
