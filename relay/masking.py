"""Masking of secrets and contact details wherever a request, URL or response is recorded."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: query parameters that carry credentials on some platform
SECRET_PARAMS = frozenset({"access_token", "appsecret_proof", "token", "api_key", "key", "client_secret"})
MASK = "***"
#: an address starts only where a run of address characters starts (the look-behind): linear time, where
#: the bare pattern was quadratic on long runs of word characters
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.-]+")
#: a phone number standing alone: not digits inside an id, a hash or a UUID
_PHONE = re.compile(r"(?<![\w.-])\+?\(?\d[\d ()-]{8,}\d(?![\w.-])")
_SECRET_PARAM = re.compile(r"\b((?:" + "|".join(sorted(SECRET_PARAMS)) + r")=)[^&\s\"']+")
_OAUTH_SIG = re.compile(r'(oauth_(?:signature|token|consumer_key)=")[^"]*(")')


def mask_url(url: str) -> str:
    """``url`` with the values of credential query parameters replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (k, MASK if k in SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with known secrets, credential parameters, emails and phone numbers masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    text = _SECRET_PARAM.sub(r"\1" + MASK, text)
    text = _OAUTH_SIG.sub(r"\1" + MASK + r"\2", text)
    text = _EMAIL.sub("[email]", text)
    return _PHONE.sub("[phone]", text)
