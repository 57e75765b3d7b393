"""`vllm-obs fleet PATH_OR_URL... -o OUTDIR`: many servers' logs, in parallel, into Parquet."""

from __future__ import annotations

import argparse
import sys

from vllm_obs.cli.common import UsageError
from vllm_obs.cli.common import add_theory_flags, add_time_flags


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "fleet",
        help="analyze a whole cluster's logs in parallel (process pool or Ray) into Parquet and a page",
        description=(
            "Find every vLLM log under the given directories or URLs (s3://, gs://, http(s)://, file://; "
            "credentials from the usual environment), analyze each source exactly as `vllm-obs analyze` "
            "does, one task per source, and write starts.parquet, stats.parquet, errors.parquet, "
            "sources.parquet and fleet.html to OUTDIR.\n\n"
            "A source is one rotated set, read in time order. Kubernetes pod logs "
            "(<namespace>_<pod>_<uid>/<container>/N.log) are one source per container, labelled with "
            "namespace, pod and container, restarts included; Docker json-file logs (<id>-json.log*) are "
            "labelled with the container id; other files are named by their path under the argument."
        ),
        epilog=(
            "examples:\n"
            "  vllm-obs fleet /var/log/pods -o fleet-out\n"
            "  vllm-obs fleet s3://logs/cluster-a/pods -o out --jobs 8\n"
            "  vllm-obs fleet s3://logs/pods -o out --engine ray --ray-address auto\n"
            "  duckdb -c \"select pod, sum(kv_saturated_minutes) m from 'out/starts.parquet' group by pod order by m desc\"\n\n"
            "A source that cannot be read is reported on stderr (one warning line each) and listed in "
            "sources.parquet and fleet.html; the others are still analyzed. Schemas and queries: docs/fleet.md.\n\n"
            "exit codes: 0 ok (warnings for unreadable sources), 1 no source could be read, 2 bad usage"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="PATH_OR_URL", help="directories, files or URLs to walk")
    parser.add_argument("-o", "--outdir", required=True, metavar="OUTDIR", help="directory for the Parquet files and fleet.html")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: a process pool on this machine (default); ray: tasks on a Ray cluster")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="worker processes (local), or CPUs of the Ray started for the run (default: the CPU count)")
    parser.add_argument("--ray-address", metavar="ADDR",
                        help="an existing Ray cluster (host:port or 'auto'); default: start a local Ray for the run")
    parser.add_argument("--reports", action="store_true",
                        help="also write each source's single-source report (as vllm-obs report) to OUTDIR/reports/, linked from fleet.html (needs matplotlib)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (it is shown only on a terminal anyway)")
    add_time_flags(parser)
    add_theory_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import pyarrow  # noqa: F401 - the fleet extra is installed

        from vllm_obs.fleet.engines import EngineError, default_jobs
        from vllm_obs.fleet.runner import FleetOptions, NothingToRead, run_fleet
        from vllm_obs.fleet.task import TaskOptions
    except ImportError as exc:
        raise UsageError(f"needs the fleet extra (pip install 'vllm-obs[fleet]'): {exc}") from None
    from vllm_obs.ingest.timestamps import TimezoneError, parse_timezone

    if args.reports:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--reports needs matplotlib: pip install 'vllm-obs[report]'") from None
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.ray_address and args.engine != "ray":
        raise UsageError("--ray-address needs --engine ray")
    try:
        parse_timezone(args.timezone)
    except TimezoneError as exc:
        raise UsageError(str(exc)) from None
    options = FleetOptions(
        inputs=args.inputs, outdir=args.outdir, engine=args.engine, jobs=args.jobs or default_jobs(),
        ray_address=args.ray_address, progress=False if args.no_progress else None,
        task=TaskOptions(year=args.year, timezone=args.timezone, model=args.model, model_config=args.model_config, gpu=args.gpu,
                         reports=args.reports),
    )
    try:
        counts = run_fleet(options)
    except NothingToRead as exc:
        raise UsageError(str(exc)) from None
    except EngineError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{args.outdir}: cannot write ({exc.strerror or exc})") from None
    read = counts["ok"] + counts["partial"]
    print(f"vllm-obs fleet: {read} of {sum(counts.values())} sources read ({counts['failed']} failed, "
          f"{counts['partial']} partly read) -> {args.outdir}", file=sys.stderr)
    return 0 if read else 1
