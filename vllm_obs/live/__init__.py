"""The sidecar (`vllm-obs run`): sources that follow files, containers and stdin, the pipeline
that parses and folds their lines, the state scrapes read, the HTTP server, and its settings."""
