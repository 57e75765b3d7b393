"""`vllm-obs plan`: what a model on a GPU should give under vLLM, before you start it."""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_BLOCK_SIZE = 16  # vLLM's default (config/cache.py); kept here so --help needs no theory import

DESCRIPTION = """\
Compute what vLLM will do with a model on a GPU: weights per GPU, KV cache bytes per token, the
KV budget, how many tokens and max-length requests fit, the KV one max-length request needs (the
number in vLLM's start-up ValueError), and throughput ceilings by batch size.

Block counts, tokens and concurrency use vLLM's own arithmetic (exact for a given KV budget),
with the defaults and memory rules of the vLLM release given by --vllm-version (default: the
newest release read). What vLLM measures at start-up (activation peak, non-torch memory, CUDA
graphs) is a low / expected / high range, with the term that dominates it named; pass the logged
values (or --kv-cache-memory-gib) to reproduce a log exactly.
Without a GPU, plan answers what the model alone decides (weights, KV bytes per token) and, with
--kv-cache-memory-gib, blocks, tokens and concurrency; each section says which inputs it lacks.
Throughput: roofline CEILINGS by batch size, and with --prompt-tokens/--output-tokens an ESTIMATE
for a closed-loop client at each --concurrency (calibrated terms, docs/theory.md)."""

EPILOG = """\
examples:
  vllm-obs plan --model Qwen/Qwen3-8B --gpu H100-SXM --max-model-len 32768
  vllm-obs plan --model Qwen/Qwen3-4B --gpu RTX-4090 --gpu-memory-utilization 0.5
  vllm-obs plan --model /models/qwen3-30b-a3b --gpu-memory-gib 21.66 --tensor-parallel-size 4 \\
      --max-model-len 32768 --block-size 32 --kv-cache-memory-gib 4.30     (reproduces 5.73x)
  vllm-obs plan --model Qwen/Qwen3-32B --quantization awq --gpu A10 --num-gpus 8
  vllm-obs plan --model-config ./my-model/config.json --gpu L40S --format json
  vllm-obs plan --model Qwen/Qwen3-8B --max-model-len 8192 --kv-cache-memory-gib 54.34   (no GPU: 48.30x)
  vllm-obs plan --model Qwen/Qwen3-8B --gpu H100-SXM --vllm-version 0.27.1 --max-model-len 8192 \
      --prompt-tokens 256 --output-tokens 256 --concurrency 1,8,64,256

exit codes: 0 fits (or nothing to decide it: no KV budget); 1 does not fit (the reason and the nearest config that does are printed);
2 bad usage (unknown model or GPU, impossible flag values)."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plan", help="size a vLLM deployment: memory, KV capacity, concurrency, throughput ceilings",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    m = p.add_argument_group("model")
    m.add_argument("--model", metavar="M",
                   help="Hugging Face repo id (case-insensitive) or a local path whose basename names a "
                        "catalog model (/models/qwen3-30b-a3b); a directory with config.json is read")
    m.add_argument("--model-config", metavar="PATH",
                   help="a Hugging Face config.json (or its directory) for models not in the catalog")
    m.add_argument("--dtype", default="auto",
                   help="weight dtype: auto (the config's torch_dtype), bfloat16, float16/half, float32 "
                        "(default: auto)")
    m.add_argument("--quantization", metavar="Q",
                   help="awq, awq_marlin, gptq, gptq_marlin (int4, group 128), fp8, int8/w8a8, nvfp4. "
                        "Default: from the config's quantization_config or the repo name (-AWQ, -FP8...)")
    g = p.add_argument_group("hardware")
    g.add_argument("--gpu", metavar="NAME", help="GPU from the catalog (H100-SXM, A100-80GB-SXM, L20, "
                                                 "RTX-4090, ...); run with an unknown name to list them")
    g.add_argument("--gpu-memory-gib", type=float, metavar="X",
                   help="total memory per GPU in GiB, as vLLM logs total_gpu_memory (overrides --gpu's "
                        "memory; alone it gives memory figures without throughput ceilings)")
    g.add_argument("--num-gpus", type=int, metavar="N",
                   help="GPUs available; without --tensor-parallel-size the model is split over all of "
                        "them, otherwise the rest become data-parallel replicas")
    g.add_argument("--gpu-memory-used-gib", type=float, default=0.0, metavar="X",
                   help="memory other processes already hold on each GPU (default 0)")
    s = p.add_argument_group("vLLM flags")
    s.add_argument("--tensor-parallel-size", "-tp", type=int, metavar="N", help="default 1 (or --num-gpus)")
    s.add_argument("--pipeline-parallel-size", "-pp", type=int, default=1, metavar="N", help="default 1")
    s.add_argument("--max-model-len", type=int, metavar="N",
                   help="default: the model's max_position_embeddings, as vLLM does")
    s.add_argument("--gpu-memory-utilization", type=float, metavar="F",
                   help="fraction of total GPU memory vLLM may use (default: the release's, 0.92 since "
                        "0.20, 0.9 before)")
    s.add_argument("--kv-cache-dtype", default="auto", metavar="K",
                   help="auto (the model dtype), fp8, fp8_e4m3, fp8_e5m2 (default auto)")
    s.add_argument("--block-size", type=int, metavar="N",
                   help=f"tokens per KV block (default {DEFAULT_BLOCK_SIZE}; the release's accepted sizes, "
                        "a multiple of 16 since 0.18)")
    s.add_argument("--max-num-seqs", type=int, metavar="N",
                   help="running-request cap (default: vLLM's: 1024 on >=70 GiB non-A100 cards, else 256)")
    s.add_argument("--max-num-batched-tokens", type=int, metavar="N",
                   help="tokens per step (default: vLLM's: 8192 on >=70 GiB non-A100 cards, else 2048)")
    s.add_argument("--engine", choices=("v0", "v1"), help="vLLM engine whose arithmetic to use (default v1)")
    s.add_argument("--model-runner", choices=("v1", "v2"),
                   help="vLLM's GPU model runner, as VLLM_USE_V2_MODEL_RUNNER=0/1 forces it (default: the "
                        "release's choice for the model; it decides whether CUDA graphs are subtracted)")
    s.add_argument("--vllm-version", metavar="X.Y.Z",
                   help="vLLM release whose defaults and memory rules to apply (default: the newest known, "
                        "0.33.0); the output says which rules it applied")
    o = p.add_argument_group("measured values (from a log) and model knobs")
    o.add_argument("--kv-cache-memory-gib", type=float, metavar="X",
                   help="per-GPU KV budget as vLLM logged it ('Available KV cache memory', 'the rest of "
                        "the memory reserved for KV Cache'); skips the memory model")
    o.add_argument("--activation-peak-gib", type=float, metavar="X", help="logged activation peak (else estimated)")
    o.add_argument("--non-torch-gib", type=float, metavar="X", help="logged non-torch memory (else estimated)")
    o.add_argument("--cuda-graph-gib", type=float, metavar="X", help="CUDA graph memory (else estimated)")
    o.add_argument("--context-tokens", type=int, metavar="N",
                   help="context each running request holds, for the decode ceilings (default: P + O/2 with "
                        "--prompt-tokens/--output-tokens, else min(2048, max len))")
    w = p.add_argument_group("workload (throughput estimate)")
    w.add_argument("--prompt-tokens", type=int, metavar="P", help="prompt tokens per request")
    w.add_argument("--output-tokens", type=int, metavar="O", help="output tokens per request")
    w.add_argument("--concurrency", metavar="C[,C...]",
                   help="requests a closed-loop client keeps in flight (default 1,8,64,256)")
    p.add_argument("--format", choices=("table", "json", "markdown"), default="table",
                   help="output format (default table)")
    p.set_defaults(func=run)



def run(args: argparse.Namespace) -> int:
    from vllm_obs.plan import run as run_plan  # loads the theory catalogs only when planning

    return run_plan(args)
