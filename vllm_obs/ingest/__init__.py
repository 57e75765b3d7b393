"""Bytes to text lines: opening files, .gz and stdin (reader), finding and ordering rotated sets
(discovery), splitting a live byte stream into lines (lines), and full timestamps (timestamps).
Imports nothing else of vllm_obs."""
