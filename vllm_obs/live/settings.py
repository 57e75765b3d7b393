"""`vllm-obs run` configuration: ONE declaration per setting, here.

Each field is a flag (`--<name>`, generated from this model by cli/run_command.py, with its
description as the help) and an environment variable `VLLM_OBS_<NAME>`; `--print-config` prints
the model. Flags win over the environment; lists in the environment are comma-separated
(`VLLM_OBS_FILE=/logs/a.log,/logs/b.log`). A bad value, or a `VLLM_OBS_*` variable that names no
setting, is reported as one line (exit 2).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[list[str], NoDecode]


class RunSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VLLM_OBS_", extra="forbid", protected_namespaces=())

    container: CommaList = Field(default_factory=list, description="Docker container name or id to follow (repeatable)", json_schema_extra={'group': 'sources', 'metavar': 'NAME|ID'})
    label: CommaList = Field(default_factory=list, description="follow every container with this Docker label KEY=VALUE (repeatable)", json_schema_extra={'group': 'sources', 'metavar': 'KEY=VALUE'})
    file: CommaList = Field(default_factory=list, description="log file path or glob to follow (repeatable)", json_schema_extra={'group': 'sources', 'metavar': 'PATH'})
    stdin: bool = Field(False, description="read log lines from standard input", json_schema_extra={'group': 'sources'})
    kubernetes: bool = Field(False, description="node mode: follow CRI pod logs under --kubernetes-glob", json_schema_extra={'group': 'sources'})
    kubernetes_glob: str = Field("/var/log/pods/*/*/*.log", description="CRI log files in node mode", json_schema_extra={'group': 'sources', 'metavar': 'GLOB'})
    poll: bool = Field(False, description="poll files instead of inotify (bind mounts, network filesystems)", json_schema_extra={'group': 'sources'})
    host: str = Field("0.0.0.0", description="address the /metrics server listens on", json_schema_extra={'group': 'serving'})
    port: int = Field(9400, ge=1, le=65535, description="port the /metrics server listens on", json_schema_extra={'group': 'serving'})
    stats_ttl: float = Field(60.0, gt=0, description="seconds after the last stats line before stats gauges are dropped (vLLM is quiet when idle)", json_schema_extra={'group': 'serving', 'metavar': 'SECONDS'})
    forget_after: float = Field(300.0, gt=0, description="drop the series of a glob-matched file this long after it vanished (a --file path is never dropped)", json_schema_extra={'group': 'sources', 'metavar': 'SECONDS'})
    model: str | None = Field(None, description="model repo id or path for theory metrics (else from the log)", json_schema_extra={'group': 'theory'})
    model_config_file: str | None = Field(
        None,
        validation_alias=AliasChoices("model_config_file", "VLLM_OBS_MODEL_CONFIG"),
        description="a model's config.json (or its directory) for theory metrics",
        json_schema_extra={"group": "theory", "metavar": "PATH", "flag": "--model-config"},
    )
    gpu: str | None = Field(None, description="GPU name for theory metrics (else from the log's total memory)", json_schema_extra={'group': 'theory'})
    web_config_file: str | None = Field(
        None,
        description="TLS and basic auth for /metrics: a Prometheus exporter-toolkit web config file (tls_server_config, basic_auth_users)",
        json_schema_extra={"group": "serving", "metavar": "PATH"},
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="the sidecar's own log level (to stderr)", json_schema_extra={"group": "serving"})
    log_format: Literal["text", "json"] = Field("text", description="the sidecar's own log lines: text, or one JSON object per line", json_schema_extra={"group": "serving"})

    @field_validator("container", "label", "file", mode="before")
    @classmethod
    def _split_commas(cls, value):
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("label")
    @classmethod
    def _labels_are_key_value(cls, value: list[str]) -> list[str]:
        for item in value:
            if "=" not in item or item.startswith("="):
                raise ValueError(f"label {item!r} is not KEY=VALUE")
        return value

    @model_validator(mode="after")
    def _needs_a_source(self) -> "RunSettings":
        if not (self.container or self.label or self.file or self.stdin or self.kubernetes):
            raise ValueError("nothing to follow: give --container, --label, --file, --stdin or --kubernetes")
        if "kubernetes_glob" in self.model_fields_set and not self.kubernetes:
            raise ValueError("--kubernetes-glob is for node mode: add --kubernetes (or leave the glob out)")
        if self.stdin and (self.container or self.label or self.file or self.kubernetes):
            # One stdin stream has no name of its own beside followed sources: a pipe is one source.
            raise ValueError("--stdin reads one piped stream: run it alone, not with --container, --label, --file or --kubernetes")
        return self


def env_name(name: str) -> str:
    """The environment variable of a setting."""
    return "VLLM_OBS_MODEL_CONFIG" if name == "model_config_file" else f"VLLM_OBS_{name.upper()}"


def flag_name(name: str) -> str:
    extra = RunSettings.model_fields[name].json_schema_extra
    flag = extra.get("flag") if isinstance(extra, dict) else None
    return str(flag) if flag else "--" + name.replace("_", "-")


def unknown_environment(environ: dict[str, str]) -> list[str]:
    """VLLM_OBS_* variables that name no setting (a typo would otherwise be silently ignored)."""
    known = {env_name(name) for name in RunSettings.model_fields}
    return sorted(k for k in environ if k.startswith("VLLM_OBS_") and k not in known)


def describe_error(exc: Exception) -> str:
    """A pydantic ValidationError as one line a user can act on."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for error in errors():
        where = ".".join(str(x) for x in error.get("loc", ()) if x != "__root__")
        message = error.get("msg", "invalid").removeprefix("Value error, ")
        flag = flag_name(where) if where in RunSettings.model_fields else "--" + where.replace("_", "-")
        parts.append(f"{flag}: {message}" if where else message)
    return "; ".join(parts)
