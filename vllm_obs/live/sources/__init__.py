"""Where lines come from: files (watchdog), Docker containers (Engine API), stdin, Kubernetes
node logs. Every source calls `emit(source_name, lines)` from its own thread."""
