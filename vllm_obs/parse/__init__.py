"""Text lines to typed records: the envelope (Docker, CRI, JSON logging, process tags), the one
pattern table, the records, and `LineParser`, the one code path every command uses.
Imports only `vllm_obs.ingest`."""
