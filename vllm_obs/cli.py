"""The `vllm-obs` command line: one sub-command per module in `vllm_obs.commands`.

Each command module exposes `register(subparsers)`, which adds its parser and sets
`func(args) -> int` as the handler. Exit codes: 0 ok, 1 "does not fit"/findings, 2 bad usage or
unreadable input. Errors the user can fix are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from vllm_obs import __version__

# Order is the order shown in --help.
COMMAND_MODULES = (
    "vllm_obs.commands.parse",
    "vllm_obs.commands.analyze",
    "vllm_obs.commands.plan",
    "vllm_obs.commands.run",
    "vllm_obs.commands.export",
    "vllm_obs.commands.report",
    "vllm_obs.commands.fleet",
)


class UsageError(Exception):
    """Bad input the user can fix: printed as one line, exit code 2."""


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
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vllm-obs {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not built yet in this checkout
                continue
            raise
        module.register(subparsers)
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
        sys.stderr.close()
        return 0
