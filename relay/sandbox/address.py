"""The sandbox follows the address the server actually listens on.

The demo config points its connectors at the sandbox of the same process (``http://127.0.0.1:8000/
sandbox/meta``). Started on another port (``relay serve --port 18080``), those URLs would reach
nothing, or whatever else listens on 8000, which would then receive hashed contact details. So, when
``sandbox: true``, at start:

- a connector whose ``api_base`` is this server's own sandbox (a loopback or the configured host, at the
  configured port, under ``/sandbox/``) is pointed at the real listening address;
- the demo shop's origins (``http://127.0.0.1:PORT``, ``http://localhost:PORT``) are allowed;
- a connector still pointing at a ``/sandbox/`` URL that is not this server gets a warning.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from relay.settings import Settings

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"})
#: what a client uses to reach a server bound to every interface
_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "127.0.0.1", "": "127.0.0.1"}


def reachable_host(host: str) -> str:
    """The host a local client dials to reach a server bound to ``host``."""
    return _WILDCARD.get(host, host)


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_sandbox_url(url: str) -> bool:
    return "/sandbox/" in urlsplit(url).path + "/"


def _is_this_server(url: str, settings: Settings, host: str, port: int) -> bool:
    parts = urlsplit(url)
    hosts = LOOPBACK | {settings.server.host, host}
    try:
        url_port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    return (parts.hostname or "") in hosts and url_port in (settings.server.port, port)


def follow_listener(settings: Settings, host: str, port: int) -> tuple[Settings, list[str]]:
    """``settings`` with the sandbox connectors and the demo origins following ``host:port``, and the
    warnings to print (a connector sending to a sandbox that is not this server)."""
    warnings: list[str] = []
    connectors = dict(settings.connectors)
    here = _netloc(reachable_host(host), port)
    for name, block in settings.connectors.items():
        if not _is_sandbox_url(block.api_base):
            continue
        if settings.sandbox and _is_this_server(block.api_base, settings, host, port):
            parts = urlsplit(block.api_base)
            moved = urlunsplit(parts._replace(scheme="http", netloc=here))
            if moved != block.api_base:
                connectors[name] = block.model_copy(update={"api_base": moved})
            continue
        what = "the sandbox is off" if not settings.sandbox else f"this server listens on {here}"
        warnings.append(
            f"connector {name} sends hashed contact details to {block.api_base}, a sandbox address that is "
            f"not this server ({what}): set its api_base (e.g. RELAY_SANDBOX_BASE) or turn the sandbox on"
        )
    if not settings.sandbox:
        return settings, warnings
    origins = list(settings.server.allowed_origins)
    for origin_host in dict.fromkeys((reachable_host(host), "127.0.0.1", "localhost")):
        origin = f"http://{_netloc(origin_host, port)}"
        if origin not in origins:
            origins.append(origin)
    server = settings.server.model_copy(update={"allowed_origins": tuple(origins)})
    return settings.model_copy(update={"connectors": connectors, "server": server}), warnings
