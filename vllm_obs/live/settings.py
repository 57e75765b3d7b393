"""`vllm-obs run` configuration: flags, each also an environment variable `VLLM_OBS_<NAME>`.

Flags win over the environment; lists in the environment are comma-separated
(`VLLM_OBS_FILE=/logs/a.log,/logs/b.log`). A bad value is reported as one line (exit 2).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[list[str], NoDecode]


class RunSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VLLM_OBS_", extra="forbid", protected_namespaces=())

    container: CommaList = Field(default_factory=list, description="Docker container name or id to follow (repeatable)")
    label: CommaList = Field(default_factory=list, description="follow every container with this Docker label KEY=VALUE (repeatable)")
    file: CommaList = Field(default_factory=list, description="log file path or glob to follow (repeatable)")
    stdin: bool = Field(False, description="read log lines from standard input")
    kubernetes: bool = Field(False, description="node mode: follow CRI pod logs under --kubernetes-glob")
    kubernetes_glob: str = Field("/var/log/pods/*/*/*.log", description="CRI log files in node mode")
    poll: bool = Field(False, description="poll files instead of inotify (bind mounts, network filesystems)")
    host: str = Field("0.0.0.0", description="address the /metrics server listens on")
    port: int = Field(9400, ge=1, le=65535, description="port the /metrics server listens on")
    stats_ttl: float = Field(60.0, gt=0, description="seconds after the last stats line before stats gauges are dropped (vLLM is quiet when idle)")
    model: str | None = Field(None, description="model repo id or path for theory metrics (else from the log)")
    model_config_file: str | None = Field(
        None,
        validation_alias=AliasChoices("model_config_file", "VLLM_OBS_MODEL_CONFIG"),
        description="a model's config.json (or its directory) for theory metrics",
    )
    gpu: str | None = Field(None, description="GPU name for theory metrics (else from the log's total memory)")
    web_config_file: str | None = Field(
        None, description="TLS and basic auth for /metrics: a Prometheus exporter-toolkit web config file (tls_server_config, basic_auth_users)"
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="the sidecar's own log level (to stderr)")
    log_format: Literal["text", "json"] = Field("text", description="the sidecar's own log lines: text, or one JSON object per line")

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
        return self


def describe_error(exc: Exception) -> str:
    """A pydantic ValidationError as one line a user can act on."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for error in errors():
        where = ".".join(str(x) for x in error.get("loc", ()) if x != "__root__")
        message = error.get("msg", "invalid").removeprefix("Value error, ")
        parts.append(f"--{where.replace('_', '-')}: {message}" if where else message)
    return "; ".join(parts)
