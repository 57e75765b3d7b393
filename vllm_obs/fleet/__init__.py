"""`vllm-obs fleet`: a whole cluster's vLLM logs, one task per source, into Parquet and a page.

discovery (sources and labels) -> task (the `analyze` summary as rows) -> engines (process
pool or Ray, results in source order) -> tables (Parquet row groups) and page (fleet.html).
"""
