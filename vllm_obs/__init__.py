"""vllm-obs: read what a vLLM server logs, compute what it should do, export both."""

__version__ = "0.1.0"
