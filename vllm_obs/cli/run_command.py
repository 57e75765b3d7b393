"""`vllm-obs run`: the sidecar. Follow containers, files or stdin; serve /metrics."""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import signal
import threading

from vllm_obs.cli.common import UsageError

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="the sidecar: follow vLLM logs and serve Prometheus metrics",
        description=(
            "Follow one or more vLLM log sources and export what they say (weights, KV cache budget "
            "and capacity, max concurrency, throughput, queue, KV usage, preemptions, errors, HTTP "
            "status counts) as Prometheus metrics on /metrics, with theoretical ceilings when the "
            "model and GPU are known. Sources are read from their beginning (startup lines are "
            "printed once) and then followed. Every flag can also be set as an environment "
            "variable VLLM_OBS_<FLAG> (dashes as underscores; lists comma-separated)."
        ),
        epilog=(
            "examples:\n"
            "  vllm-obs run --container vllm                    # Docker socket at DOCKER_HOST or the default\n"
            "  vllm-obs run --label app=vllm                    # every container with this label\n"
            "  vllm-obs run --file /var/log/vllm/server.log     # follows rotation and truncation\n"
            "  vllm-obs run --kubernetes                        # node mode over /var/log/pods\n"
            "  docker logs -f vllm 2>&1 | vllm-obs run --stdin\n"
            "  VLLM_OBS_CONTAINER=vllm VLLM_OBS_PORT=9401 vllm-obs run --print-config\n\n"
            "endpoints (GET and HEAD): /metrics (Prometheus text or OpenMetrics), /healthz, /readyz\n"
            "TLS and basic auth: --web-config-file in the exporter-toolkit format (docs/operations.md)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    sources = parser.add_argument_group("sources (at least one)")
    sources.add_argument("--container", action="append", metavar="NAME|ID", help="Docker container to follow (repeatable)")
    sources.add_argument("--label", action="append", metavar="KEY=VALUE", help="follow every container carrying this label (repeatable)")
    sources.add_argument("--file", action="append", metavar="PATH", help="log file or glob to follow (repeatable)")
    sources.add_argument("--stdin", action="store_true", help="read lines from standard input")
    sources.add_argument("--kubernetes", action="store_true", help="node mode: follow CRI pod logs (labels from the path)")
    sources.add_argument("--kubernetes-glob", metavar="GLOB", help="pod log files in node mode (default: /var/log/pods/*/*/*.log)")
    sources.add_argument("--poll", action="store_true", help="poll files instead of inotify (bind mounts, NFS)")
    serving = parser.add_argument_group("serving")
    serving.add_argument("--host", help="listen address (default 0.0.0.0: a sidecar is scraped from outside)")
    serving.add_argument("--port", type=int, help="listen port (default 9400)")
    serving.add_argument(
        "--web-config-file",
        metavar="PATH",
        help="TLS and basic auth for /metrics: an exporter-toolkit web config (tls_server_config, basic_auth_users with bcrypt hashes)",
    )
    serving.add_argument("--stats-ttl", type=float, metavar="SECONDS", help="drop stats gauges after this long without a stats line (default 60; vLLM is silent when idle)")
    theory = parser.add_argument_group("theory (optional; otherwise taken from the log)")
    theory.add_argument("--model", help="model repo id or local path, e.g. Qwen/Qwen3-8B")
    theory.add_argument("--model-config", dest="model_config_file", metavar="PATH", help="the model's config.json or its directory")
    theory.add_argument("--gpu", help="GPU name, e.g. H100-SXM (see vllm-obs plan --help)")
    logs = parser.add_argument_group("the sidecar's own log (stderr)")
    logs.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="default info")
    logs.add_argument("--log-format", choices=["text", "json"], help="text (default) or one JSON object per line")
    parser.add_argument("--print-config", action="store_true", help="print the effective configuration as JSON and exit")
    parser.set_defaults(func=run)


def load_settings(args: argparse.Namespace):
    from pydantic import ValidationError

    from vllm_obs.live.settings import RunSettings, describe_error

    given = {k: v for k, v in vars(args).items() if k not in ("func", "command", "print_config")}
    try:
        return RunSettings(**given)
    except ValidationError as exc:
        raise UsageError(describe_error(exc)) from None


def run(args: argparse.Namespace) -> int:
    # Imported here so that `vllm-obs --help` and the other commands start fast.
    from prometheus_client import CollectorRegistry

    from vllm_obs.metrics.collector import StateCollector
    from vllm_obs.live.pipeline import Pipeline
    from vllm_obs.live.sources.files import FileFollower
    from vllm_obs.live.sources.kubernetes import source_from_pod_log_path
    from vllm_obs.live.sources.stdin import StdinReader
    from vllm_obs.live.state import State

    from vllm_obs.live import logs

    settings = load_settings(args)
    if getattr(args, "print_config", False):
        print(json.dumps(settings.model_dump(), indent=2))
        return 0
    logs.configure(settings.log_level, settings.log_format)
    web = None
    if settings.web_config_file:
        from vllm_obs.live import webconfig

        try:
            web = webconfig.load(settings.web_config_file)
        except webconfig.WebConfigError as exc:
            raise UsageError(f"--web-config-file: {exc}") from None
        if web.users and not web.tls:
            logger.warning("basic auth without tls_server_config: passwords cross the network in clear text")
    for pattern in settings.file:
        if not glob.has_magic(pattern) and os.path.isdir(pattern):
            raise UsageError(f"--file {pattern}: is a directory (give a file or a glob such as {pattern.rstrip('/')}/*.log)")

    state = State(stats_ttl_seconds=settings.stats_ttl, theory_provider=_theory_provider(settings))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(state))
    pipeline = Pipeline(state)
    sources = []
    if settings.file:
        def file_source(path: str, patterns=tuple(settings.file)) -> str:
            # A fixed path keeps its name through rotation; a glob names each file it matches.
            for pattern in patterns:
                if not glob.has_magic(pattern) and os.path.abspath(pattern) == os.path.abspath(path):
                    return pattern
            return path

        sources.append(FileFollower(list(settings.file), pipeline.lines, file_source, poll=settings.poll, on_reconnect=state.reconnected))
    if settings.kubernetes:
        sources.append(
            FileFollower([settings.kubernetes_glob], pipeline.lines, source_from_pod_log_path, poll=settings.poll, on_reconnect=state.reconnected)
        )
    if settings.container or settings.label:
        from vllm_obs.live.sources.docker_logs import DockerFollower  # imports the docker SDK only when used

        sources.append(DockerFollower(settings.container, settings.label, pipeline, state))
    if settings.stdin:
        sources.append(StdinReader(pipeline.lines))

    from vllm_obs.live.server import MetricsServer

    try:
        server = MetricsServer(settings.host, settings.port, registry, healthy=lambda: (True, "ok"), ready=lambda: (True, "ready"), web=web)
    except OSError as exc:
        raise UsageError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    pipeline.start()
    server.start()
    for source in sources:
        source.start()
    scheme = "https" if web is not None and web.tls else "http"
    logger.info("serving metrics on %s://%s:%d/metrics%s", scheme, settings.host, server.port, " (basic auth)" if web is not None and web.users else "")
    stop.wait()
    for source in sources:
        source.stop()
    pipeline.wait_idle(5)
    pipeline.stop()
    server.stop()
    return 0


def _theory_provider(settings):
    from vllm_obs.theory.provider import make_provider

    gpu = settings.gpu
    if not gpu:
        from vllm_obs.live.nvml import detect_gpu

        detected = detect_gpu()  # None without NVML, a driver or a visible GPU
        if detected and detected[0]:
            gpu = detected[0]
            logger.info("GPU from NVML: %s (%.2f GiB)", gpu, detected[1])
    return make_provider(model=settings.model, model_config=settings.model_config_file, gpu=gpu)
