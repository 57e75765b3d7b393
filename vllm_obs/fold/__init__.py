"""Records to facts: the ONE place records become engine starts and their facts (weights, KV,
stats, errors, clean stops). `analyze`, the sidecar's state and the export all read these facts.
Imports only `vllm_obs.parse` and `vllm_obs.ingest`."""
