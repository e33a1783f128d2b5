"""Masking of secrets and contact details wherever a request, URL, response or log line is recorded.

Masking is structural: a value is hidden because of the key it stands under (``access_token=…``,
``"email": "…"``, ``oauth_signature="…"``, ``Authorization: …``) or because it is a secret the relay
knows (a connector's token, by value). Only two shapes are recognised anywhere in free text, because
they cannot be mistaken for an id: an e-mail address, and a phone number written as people write
one (a leading ``+`` or ``(415) 555-0100`` / ``415-555-0100``). Bare runs of digits (pixel ids, Unix
times, dates) are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

#: query parameters and keys that carry credentials on some platform
SECRET_PARAMS = frozenset({"access_token", "appsecret_proof", "token", "api_key", "key", "client_secret"})
#: keys whose values are credentials wherever they appear (JSON, key=value, headers)
SECRET_KEYS = SECRET_PARAMS | {
    "authorization",
    "x-pixel-token",
    "pixel_token",
    "consumer_key",
    "consumer_secret",
    "access_token_secret",
    "app_secret",
    "admin_token",
    "api_keys",
    "password",
    "oauth_signature",
    "oauth_token",
    "oauth_consumer_key",
    "oauth_nonce",
}
#: keys whose values are contact details (the relay's names and the platforms' short ones)
CONTACT_KEYS = frozenset(
    {"email", "emails", "phone", "phones", "em", "ph", "phone_number", "email_address", "mobile"}
)
MASK = "***"
EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"
#: an address starts only where a run of address characters starts (the look-behind): linear time, where
#: the bare pattern was quadratic on long runs of word characters
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.-]+")
#: phone numbers as written: international with "+", or the grouped national forms; never bare digits
_PHONE = re.compile(
    r"(?<![\w.+-])\+\d[\d ().-]{5,}\d(?![\w.-])"
    r"|(?<![\w(])\(\d{2,4}\) ?\d{3}[ .-]\d{4}(?![\w-])"
    r"|(?<![\w.-])\d{3}[.-]\d{3}[.-]\d{4}(?![\w.-])"
)
_KEYS = "|".join(re.escape(k) for k in sorted(SECRET_KEYS | CONTACT_KEYS, key=len, reverse=True))
#: ``key=value`` (query strings, log fields), ``"key": "value"`` and ``'key': 'value'`` (JSON, reprs)
_PAIR = re.compile(
    r"(?<![\w-])(?P<q>[\"']?)(?P<key>" + _KEYS + r")(?P=q)(?P<sep>\s*[:=]\s*)"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s&\"',;{}\[\]]+)",
    re.IGNORECASE,
)
_OAUTH = re.compile(r'(oauth_(?:signature|token|consumer_key|nonce)=")[^"]*(")')
_AUTH_SCHEMES = frozenset({"bearer", "oauth", "basic"})
_AUTH_HEADER = re.compile(r"(?i)\b(authorization:\s*)(?:(bearer|oauth|basic)\s+)?[^\s,]+")


def mask_url(url: str) -> str:
    """``url`` with the values of credential query parameters replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (k, MASK if k in SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


def _masked_pair(match: re.Match[str]) -> str:
    key, value = match.group("key"), match.group("value")
    if value.lower() in _AUTH_SCHEMES or value == MASK:  # "Authorization: Bearer ***", masked already
        return match.group()
    shown = MASK if key.lower() in SECRET_KEYS else _contact_mask(key)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('q')}{key}{match.group('q')}{match.group('sep')}{quote}{shown}{quote}"


def _contact_mask(key: str) -> str:
    return EMAIL_MASK if key.lower().startswith("em") else PHONE_MASK


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with known secrets, credential and contact fields, e-mails and written phones masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    text = _OAUTH.sub(r"\1" + MASK + r"\2", text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + (f"{m.group(2)} " if m.group(2) else "") + MASK, text)
    text = _PAIR.sub(_masked_pair, text)
    text = _EMAIL.sub(EMAIL_MASK, text)
    return _PHONE.sub(PHONE_MASK, text)


def mask_field(key: str, value: Any, secrets: Iterable[str] = ()) -> Any:
    """One named value: hidden entirely under a secret or contact key, else masked as data."""
    lowered = key.lower()
    if lowered in SECRET_KEYS or lowered.startswith("oauth_"):
        return MASK
    if lowered in CONTACT_KEYS:
        return _contact_mask(key)
    return mask_value(value, secrets)


def mask_value(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A JSON value with secret and contact fields hidden by key, and its strings masked as text."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return mask_text(value, secrets)
    if isinstance(value, Mapping):
        return {k: mask_field(str(k), v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(v, secrets) for v in value]
    return value


def secret_values(model: Any) -> list[str]:
    """Every ``SecretStr`` value in a settings tree (server keys, connector credentials), longest first,
    so a log formatter can mask them by value wherever they appear."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                walk(item)

    walk(model)
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)
