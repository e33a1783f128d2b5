"""Loading the YAML configuration: ``${VAR}`` interpolation, validation, clear errors."""

from __future__ import annotations

import difflib
import os
import re
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import UnionType
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from connectors.base import AudienceSettingsCheck
from relay.catalog.checks import check_catalogs
from relay.engagement import parse_term
from relay.exceptions import ConfigError
from relay.registry import ConnectorType, connector_types
from relay.settings import ConnectorSettings, Settings

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def interpolate(value: Any, path: str = "", env: Mapping[str, str] | None = None) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of a parsed YAML tree. A default may
    itself hold variables (``${RELAY_SANDBOX_BASE:-http://127.0.0.1:${RELAY_PORT:-8000}/sandbox}``);
    a value taken from the environment is used as it is, never interpolated again."""
    env = os.environ if env is None else env
    if isinstance(value, dict):
        return {k: interpolate(v, _join(path, str(k)), env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}[{i}]", env) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    return _expand(value, 0, env, path, nested=False)[0]


def _expand(text: str, pos: int, env: Mapping[str, str], path: str, *, nested: bool) -> tuple[str, int]:
    """``text`` from ``pos`` with its variables replaced, up to the end (or, when ``nested``, up to the
    ``}`` closing a default); returns the text and the position after it."""
    out: list[str] = []
    while pos < len(text):
        if nested and text[pos] == "}":
            return "".join(out), pos
        name = _NAME.match(text, pos + 2) if text.startswith("${", pos) else None
        if name is None:
            out.append(text[pos])
            pos += 1
            continue
        after = name.end()
        if text.startswith("}", after):
            out.append(_lookup(name.group(), None, env, path))
            pos = after + 1
        elif text.startswith(":-", after):
            default, close = _expand(text, after + 2, env, path, nested=True)
            if close >= len(text):  # never closed: keep the text as written
                out.append(text[pos:])
                return "".join(out), close
            out.append(_lookup(name.group(), default, env, path))
            pos = close + 1
        else:
            out.append(text[pos])
            pos += 1
    return "".join(out), pos


def _lookup(name: str, default: str | None, env: Mapping[str, str], path: str) -> str:
    if name in env:
        return env[name]
    if default is not None:
        return default
    raise ConfigError(f"environment variable {name} is not set", key=path)


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


Problem = tuple[str, str]


def _problems(exc: ValidationError, base: str, model: type[BaseModel]) -> list[Problem]:
    """Every problem pydantic found, as (key path, message); unknown keys first, each with the closest
    known key of its place as a suggestion."""
    unknown: list[Problem] = []
    others: list[Problem] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = _location(base, loc)
        if err["type"] == "extra_forbidden":
            name = str(loc[-1])
            known = _fields_at(model, loc[:-1])
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            unknown.append((key, f"unknown key {name}{hint}"))
        elif err["type"] == "missing":
            others.append((key, "required value is missing"))
        else:
            others.append((key, str(err["msg"]).removeprefix("Value error, ")))
    return unknown + others


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at ``loc`` inside ``model`` (empty when it is not a model)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not isinstance(current, type) or not issubclass(current, BaseModel):
            if isinstance(part, str) and _is_mapping_type(current):
                current = _value_type(current)
                continue
            if isinstance(part, int):
                current = _value_type(current)
                continue
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = _unwrap(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [name for name in current.model_fields if not name.startswith("_")]
    return []


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → ``X``; other annotations as they are."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, UnionType) and len(args) == 1:
        return _unwrap(args[0])
    return annotation


def _is_mapping_type(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (dict, Mapping)


def _value_type(annotation: Any) -> Any:
    args = typing.get_args(annotation)
    return _unwrap(args[-1]) if args else None


def _raise(problems: list[Problem]) -> None:
    """One ConfigError naming every problem: the first on the line itself, the others below it."""
    if not problems:
        return
    problems = sorted(problems, key=lambda p: not p[1].startswith("unknown key"))
    (key, message), *rest = problems
    more = "".join(f"\n  {k}: {m}" for k, m in rest)
    if rest:
        more = f" (and {len(rest)} more problem{'s' * (len(rest) > 1)}:){more}"
    raise ConfigError(message + more, key=key)


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
    problems: list[Problem] = []
    settings: Settings | None = None
    try:
        settings = Settings.model_validate({**raw, "connectors": {}})
    except ValidationError as exc:
        problems += _problems(exc, "", Settings)
    connectors: dict[str, ConnectorSettings] = {}
    for name, block in blocks.items():
        try:
            connectors[str(name)] = _connector_settings(str(name), block, types)
        except _Invalid as invalid:
            problems += invalid.problems
        except ConfigError as exc:
            problems.append((exc.key or f"connectors.{name}", _bare(exc)))
    _raise(problems)
    assert settings is not None
    _check_audiences(settings, connectors, types)
    check_catalogs(settings, connectors)
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
        raise _Invalid(_problems(exc, base, model)) from None


class _Invalid(Exception):
    """A connector block's problems, gathered with the others before one ConfigError is raised."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems


def _bare(exc: ConfigError) -> str:
    """A ConfigError's message without the ``key: `` prefix it was given."""
    return exc.message.removeprefix(f"{exc.key}: ") if exc.key else exc.message


def _check_rule_terms(items: Sequence[str], key: str) -> None:
    """Each events-rule item parses: ``ViewContent with engaged_seconds >= 30`` (relay.engagement)."""
    for index, item in enumerate(items):
        try:
            parse_term(item)
        except ValueError as exc:
            raise ConfigError(str(exc), key=f"{key}[{index}]") from None


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
        if source.type == "events":
            _check_rule_terms(source.include, f"{base}.include")
            _check_rule_terms(source.exclude, f"{base}.exclude")
        for dest in audience.destinations:
            key = f"audiences.{name}.destinations.{dest}"
            if dest not in connectors:
                raise ConfigError(f"no connector named {dest!r}", key=key)
            if "audiences" not in types[connectors[dest].type].capabilities:
                raise ConfigError(
                    f"connector {dest!r} ({connectors[dest].type}) cannot sync audiences", key=key
                )
            block = connectors[dest]
            if isinstance(block, AudienceSettingsCheck) and (text := block.audience_problem()):
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
