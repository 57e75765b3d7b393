"""Sub-commands of `vllm-obs`; each module has `register(subparsers)`."""
