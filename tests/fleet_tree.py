"""A generated cluster log tree for the fleet tests, built from the project's real samples.

Layout (what Fluent Bit / Vector copies of a node's /var/log leave in object storage):
  pods/<namespace>_<pod>_<uid>/vllm/N.log[.DATE.gz]   Kubernetes pod logs (200 pods)
  docker/containers/<id>/<id>-json.log[.1]             one Docker json-file set, rotated
  hosts/gpu-node-a/vllm.log[.1]                         a plain rotated log

Special pods: `kv-hot` (the KV-saturated v0.11 log, rotated into a .gz and the live file),
`restarts` (the v0.8 OOM-restart log split at its restart into 0.log and 1.log), `crashloop`
(the v0.33 CUDA-OOM start, restarted four times, minutes apart), `broken` (a corrupt .gz only:
unreadable) and `halfgz` (a truncated .gz before a readable 0.log: partly read). The others
cycle through samples/real-logs/*/input.log (several versions and envelopes).
"""

from __future__ import annotations

import gzip
import hashlib
import re
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
PODS = 200
NAMESPACES = ("serving", "batch", "research")
CRASHLOOP_RESTARTS = 4

_CRI_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)")
_VLLM_TIME = re.compile(r"\b(\d\d-\d\d \d\d:\d\d:\d\d)\b")


def uid(name: str) -> str:
    h = hashlib.sha1(name.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def pod_dir(root: Path, namespace: str, pod: str) -> Path:
    d = root / "pods" / f"{namespace}_{pod}_{uid(pod)}" / "vllm"
    d.mkdir(parents=True, exist_ok=True)
    return d


def shift_times(text: str, delta: timedelta, year: int) -> str:
    """The same log `delta` later: the CRI timestamp and vLLM's own stamp."""
    out = []
    for line in text.splitlines(keepends=True):
        m = _CRI_TIME.match(line)
        if m:
            moved = datetime.strptime(m[1], "%Y-%m-%dT%H:%M:%S") + delta
            line = moved.strftime("%Y-%m-%dT%H:%M:%S") + line[m.end():]
        m = _VLLM_TIME.search(line)
        if m:
            moved = datetime.strptime(f"{year}-{m[1]}", "%Y-%m-%d %H:%M:%S") + delta
            line = line[:m.start()] + moved.strftime("%m-%d %H:%M:%S") + line[m.end():]
        out.append(line)
    return "".join(out)


def real_samples() -> list[Path]:
    return sorted(SAMPLES.glob("real-logs/*/input.log"))


def build_tree(root: Path) -> dict[str, str]:
    """Write the tree under root; returns {role: source key} for the special sources."""
    keys: dict[str, str] = {}

    # KV-saturated pod: the first half rotated and gzipped by the kubelet, the rest live.
    hot = (SAMPLES / "constructed/v0.11/h100-qwen3-8b-apiserver-prefix.log").read_text()
    lines = hot.splitlines(keepends=True)
    d = pod_dir(root, "serving", "kv-hot")
    (d / "0.log.20261125-170000.gz").write_bytes(gzip.compress("".join(lines[: len(lines) // 2]).encode()))
    (d / "0.log").write_text("".join(lines[len(lines) // 2:]))
    keys["kv-hot"] = str(d.relative_to(root))

    # Restarted once: the kubelet writes the second container's log to 1.log.
    both = (SAMPLES / "constructed/v0.8/l40s-qwen25-14b-oom-restart-docker-timestamps.log").read_text().splitlines(keepends=True)
    second = [i for i, line in enumerate(both) if "vLLM API server version" in line][1]
    d = pod_dir(root, "serving", "restarts")
    (d / "0.log").write_text("".join(both[:second]))
    (d / "1.log").write_text("".join(both[second:]))
    keys["restarts"] = str(d.relative_to(root))

    # Crash loop: the same CUDA-OOM start again and again, ten minutes apart (each run lasts about
    # nine: a restart is always stamped after the run before it).
    cri = (SAMPLES / "constructed/v0.33/h100-llama31-8b-oom-restart-cri-partials.log").read_text().splitlines(keepends=True)
    banner = [i for i, line in enumerate(cri) if "version 0.33" in line][1] - 2
    first = "".join(cri[:banner])
    d = pod_dir(root, "batch", "crashloop")
    for k in range(CRASHLOOP_RESTARTS):
        (d / f"{k}.log").write_text(shift_times(first, timedelta(minutes=10 * k), 2026))
    keys["crashloop"] = str(d.relative_to(root))

    # Unreadable: gzip magic then junk.
    d = pod_dir(root, "research", "broken")
    (d / "0.log.20261120-000000.gz").write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4)
    keys["broken"] = str(d.relative_to(root))

    # Partly readable: a truncated rotated .gz, then a good live file.
    samples = real_samples()
    d = pod_dir(root, "research", "halfgz")
    packed = gzip.compress(samples[0].read_bytes())
    (d / "0.log.20261120-000000.gz").write_bytes(packed[: len(packed) // 2])
    (d / "0.log").write_bytes(samples[1].read_bytes())
    keys["halfgz"] = str(d.relative_to(root))

    # A few more large constructed logs, then small real ones, round-robin over namespaces.
    constructed = ["v0.33/h100-llama31-8b.log", "v0.8-v1/2xa100-qwen25-32b-tp2.log", "v0.4/a100-llama3-8b-preemption.log"]
    for i, name in enumerate(constructed):
        d = pod_dir(root, NAMESPACES[i % 3], f"big-{i}")
        (d / "0.log").write_bytes((SAMPLES / "constructed" / name).read_bytes())
    small = [s for s in samples if s.stat().st_size <= 64 * 1024]
    for s in samples:
        if s not in small:  # the long real run (240 KB) once, not a dozen times
            constructed.append(s)
            d = pod_dir(root, "serving", "h100-full-run")
            (d / "0.log").write_bytes(s.read_bytes())
    for i in range(PODS - 5 - len(constructed)):
        d = pod_dir(root, NAMESPACES[i % 3], f"vllm-{i:03d}")
        (d / "0.log").write_bytes(small[i % len(small)].read_bytes())

    # Docker json-file, rotated once (.1 is older).
    doc = (SAMPLES / "constructed/v0.6/h100-llama31-8b-prefix-cache-docker-json.log").read_text().splitlines(keepends=True)
    cid = hashlib.sha256(b"vllm-docker").hexdigest()
    d = root / "docker" / "containers" / cid
    d.mkdir(parents=True)
    (d / f"{cid}-json.log.1").write_text("".join(doc[: len(doc) // 2]))
    (d / f"{cid}-json.log").write_text("".join(doc[len(doc) // 2:]))
    keys["docker"] = f"docker/containers/{cid}/{cid}-json.log"

    # A plain rotated log on a host.
    sat = (SAMPLES / "constructed/v0.4.2/a100-llama3-8b-saturation.log").read_text().splitlines(keepends=True)
    d = root / "hosts" / "gpu-node-a"
    d.mkdir(parents=True)
    (d / "vllm.log.1").write_text("".join(sat[: len(sat) // 3]))
    (d / "vllm.log").write_text("".join(sat[len(sat) // 3:]))
    keys["host"] = "hosts/gpu-node-a/vllm.log"
    return keys
