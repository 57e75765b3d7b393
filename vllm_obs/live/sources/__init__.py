"""Where lines come from: files (watchdog), Docker containers (Engine API), stdin, Kubernetes
node logs. Every source runs in its own thread and reports through the same callbacks, and
imports nothing of the pipeline or the state:

- `emit(source, lines)`: complete lines, in order;
- `on_reconnect(source)`: re-attached after a rotation, a truncation or a daemon outage;
- `on_status(source, up, reason)`: followed, or down and why ("missing: ...", "unreadable: ...");
- `on_restart(source)` (containers): the next lines are a new engine start;
- `on_forget(source)` (glob-matched files): it vanished for good, drop its series;
- `on_ready()`: read up to its current end once (readiness).
"""
