"""Load shipped model configs and resolve `--model` / `--model-config` to a ModelSpec.

The only module of the theory package (with gpus.py) that reads files. Matching rules:
- a repo id, case-insensitive (`Qwen/Qwen3-4B`, `qwen/qwen3-4b`), including listed aliases
  (base/instruct/quantized repos with the same shapes);
- the basename of a local path (`/models/qwen3-30b-a3b`, `~/hf/Qwen3-8B`), matched against the
  repo names without their organisation;
- a directory or file holding a config.json is read directly (`--model-config`, or a `--model`
  path that exists).
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .models import ModelConfigError, ModelSpec


class UnknownModelError(LookupError):
    def __init__(self, name: str, suggestions: list[str]):
        self.name = name
        self.suggestions = suggestions
        hint = f" Closest catalog names: {', '.join(suggestions)}." if suggestions else ""
        super().__init__(
            f"unknown model {name!r}.{hint} For another model pass its Hugging Face config.json "
            "with --model-config PATH (the file or the model directory)."
        )


@dataclass(frozen=True)
class CatalogEntry:
    key: str                      # file stem in data/models
    repos: tuple[str, ...]        # first = the repo whose config.json is shipped
    published_params: int
    published_params_source: str
    source_url: str
    notes: str | None
    config: dict


def _data_dir():
    return resources.files("vllm_obs") / "data" / "models"


@lru_cache(maxsize=1)
def load_catalog() -> dict[str, CatalogEntry]:
    base = _data_dir()
    index = json.loads((base / "index.json").read_text(encoding="utf-8"))
    out = {}
    for key, meta in index.items():
        config = json.loads((base / f"{key}.json").read_text(encoding="utf-8"))
        out[key] = CatalogEntry(
            key=key, repos=tuple(meta["repos"]), published_params=int(meta["published_params"]),
            published_params_source=meta.get("published_params_source", ""),
            source_url=meta.get("source_url", ""), notes=meta.get("notes"), config=config,
        )
    return out


def _names() -> dict[str, str]:
    """lower-case name -> catalog key, for repo ids and for repo basenames."""
    names: dict[str, str] = {}
    for key, entry in load_catalog().items():
        names.setdefault(key.lower(), key)
        for repo in entry.repos:
            names.setdefault(repo.lower(), key)
            names.setdefault(repo.split("/")[-1].lower(), key)
    return names


def catalog_names() -> list[str]:
    return sorted(repo for e in load_catalog().values() for repo in e.repos[:1])


def find_entry(name: str) -> CatalogEntry | None:
    """Catalog entry for a repo id or a local path's basename, or None."""
    cleaned = name.strip().rstrip("/")
    names = _names()
    low = cleaned.lower()
    if low in names:
        return load_catalog()[names[low]]
    base = os.path.basename(cleaned).lower()
    if base in names:
        return load_catalog()[names[base]]
    # HF cache layout: models--Qwen--Qwen3-8B/snapshots/<sha>
    for part in reversed(Path(cleaned).parts):
        if part.lower().startswith("models--"):
            repo = part[len("models--"):].replace("--", "/").lower()
            if repo in names:
                return load_catalog()[names[repo]]
    return None


_SUFFIXES = ("-instruct", "-chat", "-base", "-it", "-awq", "-fp8", "-gptq-int4", "-gptq-int8", "-int4", "-int8")


def _stem(name: str) -> str:
    """Basename without the variant suffixes, so `qwen3-8b-instruct` is close to `qwen3-8b`."""
    stem = os.path.basename(name.strip().rstrip("/")).lower() or name.lower()
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if stem.endswith(suffix):
                stem, changed = stem[: -len(suffix)], True
    return stem


def suggest(name: str, n: int = 5) -> list[str]:
    """Closest catalog repo ids (difflib on basenames without variant suffixes)."""
    stems: dict[str, str] = {}
    for entry in load_catalog().values():
        for repo in entry.repos:
            stems.setdefault(_stem(repo), entry.repos[0])
    close = difflib.get_close_matches(_stem(name), list(stems), n=n * 3, cutoff=0.5)
    return list(dict.fromkeys(stems[c] for c in close))[:n]


def read_config_file(path: str) -> dict:
    p = Path(os.path.expanduser(path))
    if p.is_dir():
        p = p / "config.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelConfigError(f"no config.json at {p}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelConfigError(f"cannot read {p} as JSON: {exc}") from exc
    return data


def resolve_model(model: str | None = None, model_config: str | None = None) -> tuple[ModelSpec, str]:
    """(spec, where it came from). Raises UnknownModelError / ModelConfigError."""
    if model_config:
        cfg = read_config_file(model_config)
        return ModelSpec.from_hf_config(cfg, name=model or str(model_config)), f"config file {model_config}"
    if not model:
        raise UnknownModelError("", [])
    entry = find_entry(model)
    if entry is not None:
        return ModelSpec.from_hf_config(entry.config, name=entry.repos[0]), f"catalog ({entry.repos[0]})"
    local = Path(os.path.expanduser(model))
    if (local / "config.json").is_file() or (local.is_file() and local.suffix == ".json"):
        cfg = read_config_file(str(local))
        return ModelSpec.from_hf_config(cfg, name=model), f"config file {local}"
    raise UnknownModelError(model, suggest(model))
