"""Kubernetes node mode: the kubelet's CRI log files, labelled from their path.

`/var/log/pods/<namespace>_<pod>_<pod-uid>/<container>/<restart>.log` -> source
`<namespace>/<pod>/<container>`: one source per container across its restarts (the kubelet
starts a new `<restart>.log` file; the follower treats it like a rotation).
"""

from __future__ import annotations

import os

DEFAULT_GLOB = "/var/log/pods/*/*/*.log"


def source_from_pod_log_path(path: str) -> str:
    container_dir = os.path.dirname(path)
    pod_dir = os.path.dirname(container_dir)
    container = os.path.basename(container_dir)
    parts = os.path.basename(pod_dir).split("_")
    if len(parts) >= 3 and container:
        namespace, pod = parts[0], "_".join(parts[1:-1])
        return f"{namespace}/{pod}/{container}"
    return os.path.abspath(path)
