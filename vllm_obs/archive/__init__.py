"""Logs after the fact: `analyze` (the JSON contract and the table), `report` (an HTML or
Markdown page with findings and plots) and `export` (OpenMetrics for backfill)."""
