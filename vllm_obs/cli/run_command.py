"""`vllm-obs run`: the sidecar. Follow containers, files or stdin; serve /metrics."""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import signal
import threading
import typing
from typing import Any

from vllm_obs.cli.common import UsageError, check_theory_flags

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
            "endpoints (GET and HEAD): /metrics (Prometheus text or OpenMetrics; 503 until every source\n"
            "has been read to its end once, so a restart never shows Prometheus a counter reset),\n"
            "/healthz (503 when a pipeline or source thread died), /readyz (200 once caught up)\n"
            "TLS and basic auth: --web-config-file in the exporter-toolkit format (docs/operations.md)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    add_settings_flags(parser)
    parser.add_argument("--print-config", action="store_true", help="print the effective configuration as JSON and exit")
    parser.set_defaults(func=run)


_GROUPS = {
    "sources": "sources (at least one)",
    "serving": "serving",
    "theory": "theory (optional; otherwise taken from the log)",
}


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per RunSettings field, generated: the flags, `VLLM_OBS_*` and --print-config
    cannot disagree."""
    from vllm_obs.live.settings import RunSettings, env_name, flag_name  # pydantic: at run time only

    groups: dict[str, argparse._ArgumentGroup] = {}
    for name, info in RunSettings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        title = _GROUPS.get(str(extra.get("group", "")), "other")
        group = groups.get(title) or groups.setdefault(title, parser.add_argument_group(title))
        default = info.get_default(call_default_factory=True)
        shown = f"default {default}; " if default not in (None, [], False) else ""
        help_text = f"{info.description} ({shown}env {env_name(name)})"
        kwargs: dict[str, Any] = {"dest": name, "help": help_text}
        if extra.get("metavar"):
            kwargs["metavar"] = str(extra["metavar"])
        annotation = info.annotation
        if typing.get_origin(annotation) is typing.Literal:
            group.add_argument(flag_name(name), choices=list(typing.get_args(annotation)), **kwargs)
        elif annotation is bool:
            group.add_argument(flag_name(name), action="store_true", **kwargs)
        elif default == [] :
            group.add_argument(flag_name(name), action="append", **kwargs)
        else:
            kind = int if annotation is int else float if annotation is float else str
            group.add_argument(flag_name(name), type=kind, **kwargs)


def load_settings(args: argparse.Namespace):
    from pydantic import ValidationError

    from vllm_obs.live.settings import RunSettings, describe_error

    from vllm_obs.live.settings import unknown_environment

    unknown = unknown_environment(dict(os.environ))
    if unknown:
        raise UsageError(f"unknown environment variable {', '.join(unknown)} (vllm-obs run --help lists every VLLM_OBS_* setting)")
    given = {k: v for k, v in vars(args).items() if k not in ("func", "command", "print_config")}
    try:
        return RunSettings(**given)
    except ValidationError as exc:
        raise UsageError(describe_error(exc)) from None


def run(args: argparse.Namespace) -> int:
    # Imported here so that `vllm-obs --help` and the other commands start fast.
    from prometheus_client import CollectorRegistry

    from vllm_obs.metrics.collector import StateCollector
    from vllm_obs.live.health import Health
    from vllm_obs.live.pipeline import Pipeline
    from vllm_obs.live.sources.files import FileFollower
    from vllm_obs.live.sources.kubernetes import source_from_pod_log_path
    from vllm_obs.live.sources.stdin import StdinReader
    from vllm_obs.live.state import State

    from vllm_obs.live import logs

    settings = load_settings(args)
    # A misspelled --gpu / --model / --model-config is an error at start, not missing theory.
    check_theory_flags(argparse.Namespace(model=settings.model, model_config=settings.model_config_file, gpu=settings.gpu))
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
    health = Health(pipeline)
    sources: list[Any] = []  # each has start() and stop()
    if settings.file:
        def file_source(path: str, patterns=tuple(settings.file)) -> str:
            # A fixed path keeps its name through rotation; a glob names each file it matches.
            for pattern in patterns:
                if not glob.has_magic(pattern) and os.path.abspath(pattern) == os.path.abspath(path):
                    return pattern
            return path

        files = FileFollower(list(settings.file), pipeline.lines, file_source, poll=settings.poll, on_reconnect=state.reconnected,
                             on_status=state.set_up, on_forget=state.forget, forget_after_seconds=settings.forget_after)
        files.on_ready = health.add("files", files.alive)
        sources.append(files)
    if settings.kubernetes:
        pods = FileFollower([settings.kubernetes_glob], pipeline.lines, source_from_pod_log_path, poll=settings.poll,
                            on_reconnect=state.reconnected, on_status=state.set_up, on_forget=state.forget,
                            forget_after_seconds=settings.forget_after)
        pods.on_ready = health.add("kubernetes pod logs", pods.alive)
        sources.append(pods)
    if settings.container or settings.label:
        from vllm_obs.live.sources.docker_logs import DockerFollower  # imports the docker SDK only when used

        containers = DockerFollower(settings.container, settings.label, pipeline.lines, on_restart=pipeline.engine_restarted,
                                    on_reconnect=state.reconnected, on_status=state.set_up)
        containers.on_ready = health.add("docker", containers.alive)
        sources.append(containers)
    if settings.stdin:
        sources.append(StdinReader(pipeline.lines))  # a stream has no end to catch up to: ready

    from vllm_obs.live.server import MetricsServer

    try:
        server = MetricsServer(settings.host, settings.port, registry, healthy=health.healthy, ready=health.ready, web=web)
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
    from vllm_obs.live.theory_provider import make_provider

    gpu = settings.gpu
    if not gpu:
        from vllm_obs.live.nvml import detect_gpu

        detected = detect_gpu()  # None without NVML, a driver or a visible GPU
        if detected and detected[0]:
            gpu = detected[0]
            logger.info("GPU from NVML: %s (%.2f GiB)", gpu, detected[1])
    return make_provider(model=settings.model, model_config=settings.model_config_file, gpu=gpu)
