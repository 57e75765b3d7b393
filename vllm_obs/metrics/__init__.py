"""The one metric catalog (every name, type, unit, help, labels) and the code that turns folded
facts into samples: the live Prometheus collector and the OpenMetrics text of the export."""
