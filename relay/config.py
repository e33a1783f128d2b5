"""Loading the YAML configuration: ``${VAR}`` interpolation, validation, clear errors."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from relay.exceptions import ConfigError
from relay.registry import ConnectorType, connector_types
from relay.settings import ConnectorSettings, Settings

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, path: str = "", env: Mapping[str, str] | None = None) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of a parsed YAML tree."""
    env = os.environ if env is None else env
    if isinstance(value, dict):
        return {k: interpolate(v, _join(path, str(k)), env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}[{i}]", env) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"environment variable {name} is not set", key=path)

    return _VAR.sub(replace, value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _location(base: str, loc: tuple[Any, ...]) -> str:
    out = base
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not part.startswith(("function-", "tagged-union")):
            out = _join(out, part)
    return out


def _first_error(exc: ValidationError, base: str) -> ConfigError:
    err = exc.errors()[0]
    key = _location(base, tuple(err["loc"]))
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    elif err["type"] == "missing":
        message = "required value is missing"
    more = len(exc.errors()) - 1
    return ConfigError(message + (f" (and {more} more problem{'s' * (more > 1)})" if more else ""), key=key)


def parse_settings(raw: Any, types: Mapping[str, ConnectorType] | None = None) -> Settings:
    """Validate an interpolated YAML tree; each connector block against its own type's model."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("the file must hold a mapping of sections (server, storage, connectors, ...)")
    types = connector_types() if types is None else types
    raw = dict(raw)
    blocks = raw.pop("connectors", None) or {}
    if not isinstance(blocks, dict):
        raise ConfigError("must be a mapping of connector names to blocks", key="connectors")
    connectors: dict[str, ConnectorSettings] = {}
    for name, block in blocks.items():
        connectors[str(name)] = _connector_settings(str(name), block, types)
    try:
        settings = Settings.model_validate({**raw, "connectors": {}})
    except ValidationError as exc:
        raise _first_error(exc, "") from None
    _check_audiences(settings, connectors, types)
    return settings.model_copy(update={"connectors": connectors})


def _connector_settings(name: str, block: Any, types: Mapping[str, ConnectorType]) -> ConnectorSettings:
    base = f"connectors.{name}"
    if not isinstance(block, dict):
        raise ConfigError("must be a mapping", key=base)
    kind = block.get("type")
    if kind is None:
        raise ConfigError("required value is missing", key=f"{base}.type")
    if kind not in types:
        known = ", ".join(sorted(types)) or "none installed"
        raise ConfigError(f"unknown connector type {kind!r} (installed: {known})", key=f"{base}.type")
    model: type[ConnectorSettings] = types[kind].cls.settings_model
    try:
        return model.model_validate(block)
    except ValidationError as exc:
        raise _first_error(exc, base) from None


def _check_audiences(
    settings: Settings, connectors: Mapping[str, ConnectorSettings], types: Mapping[str, ConnectorType]
) -> None:
    for name, audience in settings.audiences.items():
        source = audience.source
        base = f"audiences.{name}.source"
        if source.type == "csv" and not source.path:
            raise ConfigError("a csv source needs path", key=f"{base}.path")
        if source.type == "sql" and not (source.url and source.query):
            raise ConfigError("a sql source needs url and query", key=base)
        if source.type == "events" and not source.include:
            raise ConfigError("an events source needs include", key=f"{base}.include")
        for dest in audience.destinations:
            key = f"audiences.{name}.destinations.{dest}"
            if dest not in connectors:
                raise ConfigError(f"no connector named {dest!r}", key=key)
            if "audiences" not in types[connectors[dest].type].capabilities:
                raise ConfigError(
                    f"connector {dest!r} ({connectors[dest].type}) cannot sync audiences", key=key
                )
            problem = getattr(connectors[dest], "audience_problem", None)
            if callable(problem) and (text := problem()):
                raise ConfigError(f"connector {dest!r} cannot sync audiences: {text}", key=key)


def load_settings(path: str | Path, types: Mapping[str, ConnectorType] | None = None) -> Settings:
    """Read, interpolate and validate a config file; every problem is a :class:`ConfigError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror}", path=str(path)) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"not valid YAML{where}", path=str(path)) from None
    try:
        return parse_settings(interpolate(raw), types)
    except ConfigError as exc:
        raise ConfigError(exc.message, path=str(path)) from None
