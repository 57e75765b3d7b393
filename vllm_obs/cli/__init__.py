"""The `vllm-obs` command line: one sub-command per `*_command` module in this package.

Each command module exposes `register(subparsers)`, which adds its parser and sets
`func(args) -> int` as the handler. Exit codes: 0 ok, 1 "does not fit" (plan) or no vLLM line in
the input (parse, analyze, report, export), 2 bad usage or unreadable input. Errors the user can fix are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from vllm_obs import __version__
from vllm_obs.cli.common import UsageError, quiet_broken_pipe

# Order is the order shown in --help.
COMMAND_MODULES = (
    "vllm_obs.cli.parse_command",
    "vllm_obs.cli.analyze_command",
    "vllm_obs.cli.plan_command",
    "vllm_obs.cli.catalog_command",
    "vllm_obs.cli.run_command",
    "vllm_obs.cli.export_command",
    "vllm_obs.cli.report_command",
    "vllm_obs.cli.fleet_command",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vllm-obs",
        description=(
            "Read vLLM server logs (any version, V0 and V1, wrapped by Docker, Kubernetes or JSON "
            "logging), compute what the model and GPU should give, and compare the two."
        ),
        epilog=(
            "examples:\n"
            "  vllm-obs analyze server.log            summary of one log, as a table\n"
            "  docker logs -t vllm 2>&1 | vllm-obs analyze - --format json\n"
            "  vllm-obs parse server.log.gz           one JSON record per recognised line\n"
            "  vllm-obs plan --model Qwen/Qwen3-8B --gpu H100-SXM --max-model-len 32768\n"
            "  vllm-obs catalog gpus                  the GPUs (and models) --gpu and --model know\n\n"
            "exit codes: 0 ok; 1 no vLLM line in the input (or, for plan, does not fit); 2 bad usage or an\n"
            "unreadable input. Errors are one line on stderr.\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vllm-obs {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"vllm-obs {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `vllm-obs parse big.log | head`: the reader went away; not an error.
        quiet_broken_pipe()
        return 0
