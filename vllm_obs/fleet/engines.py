"""Run one task per source on a process pool (`local`) or a Ray cluster (`ray`).

Both engines keep a bounded window of tasks in flight and hand results back in source order:
results that finish early wait in a small reorder buffer, so the output files are the same
whatever the engine or the number of workers, and the driver never holds more than the window.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from vllm_obs.fleet.discovery import Source
from vllm_obs.fleet.task import TaskOptions, analyze_source, failed_result

Result = dict[str, Any]
OnDone = Callable[[Source, Result], None]


class EngineError(Exception):
    """The engine could not start (Ray missing or unreachable): a one-line message."""


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _ordered(sources: list[Source], submit: Callable[[Source], Any], wait_any: Callable[[list], list],
             collect: Callable[[Any, Source], Result], window: int, on_done: OnDone | None) -> Iterator[Result]:
    """Submit up to `window` tasks, yield results in source order as soon as they can be."""
    pending: dict[Any, int] = {}
    ready: dict[int, Result] = {}
    next_submit = next_emit = 0
    while next_emit < len(sources):
        while next_submit < len(sources) and len(pending) + len(ready) < window:
            pending[submit(sources[next_submit])] = next_submit
            next_submit += 1
        if next_emit not in ready:
            for handle in wait_any(list(pending)):
                index = pending.pop(handle)
                ready[index] = collect(handle, sources[index])
                if on_done is not None:
                    on_done(sources[index], ready[index])
        while next_emit in ready:
            yield ready.pop(next_emit)
            next_emit += 1


def run_local(sources: list[Source], options: TaskOptions, jobs: int, on_done: OnDone | None = None) -> Iterator[Result]:
    if jobs <= 1:  # no pool: the same task in this process (no pickling, easy to profile)
        for source in sources:
            result = analyze_source(source, options)
            if on_done is not None:
                on_done(source, result)
            yield result
        return
    # Workers fork from a server process that has imported the analysis once: not from this
    # process, which runs the progress bar's thread (fork with threads can deadlock).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["vllm_obs.fleet.task"])
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        def submit(source: Source) -> Future:
            return pool.submit(analyze_source, source, options)

        def wait_any(handles: list) -> list:
            done, _ = wait(handles, return_when=FIRST_COMPLETED)
            return list(done)

        def collect(future: Future, source: Source) -> Result:
            try:
                return future.result()
            except Exception as exc:  # noqa: BLE001 - the worker died (killed, out of memory): this source only
                return failed_result(source, f"worker failed: {type(exc).__name__}: {exc}")

        yield from _ordered(sources, submit, wait_any, collect, window=jobs * 4, on_done=on_done)


def _check_reachable(address: str) -> None:
    """Fail in seconds, with one line, when nothing listens at host:port (ray.init would retry
    for minutes, logging every few seconds)."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise EngineError(f"--ray-address {address}: expected host:port, ray://host:port or auto")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise EngineError(f"cannot reach Ray at {address} ({exc.strerror or exc})") from None


def run_ray(sources: list[Source], options: TaskOptions, jobs: int, address: str | None,
            on_done: OnDone | None = None) -> Iterator[Result]:
    """On the cluster at `address`, or on a local Ray started for the run with `jobs` CPUs."""
    try:
        import ray
    except ImportError:
        raise EngineError("--engine ray needs Ray (pip install 'vllm-obs[fleet]')") from None
    started_here = False
    if not ray.is_initialized():
        if address:
            _check_reachable(address)
        try:
            if address:
                ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
            else:
                # A Ray for this run only: on the loopback interface, no dashboard.
                ray.init(num_cpus=jobs, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                         _node_ip_address="127.0.0.1")
        except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ...: Ray's own message says why
            raise EngineError(f"cannot start or reach Ray ({address or 'local'}): {exc}") from None
        started_here = True
    try:
        task = ray.remote(num_cpus=1, max_retries=1)(analyze_source)
        options_ref = ray.put(options)
        cpus = int(ray.cluster_resources().get("CPU", jobs)) or 1

        def wait_any(handles: list) -> list:
            done, _ = ray.wait(handles, num_returns=1)
            return done

        def collect(ref: Any, source: Source) -> Result:
            try:
                return ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - RayTaskError, WorkerCrashedError: this source only
                return failed_result(source, f"ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")

        yield from _ordered(sources, lambda s: task.remote(s, options_ref), wait_any, collect,
                            window=cpus * 4, on_done=on_done)
    finally:
        if started_here:
            ray.shutdown()
