"""The built-in platform sandbox: fake Meta and X endpoints under ``/sandbox/`` (``sandbox: true``).

The fakes validate payloads like the real platforms and keep what they accepted, so ``make run``
shows a whole round trip with no platform account; ``GET /sandbox/<platform>/_state`` shows it.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Mount

from relay.settings import Settings


def build_sandbox(settings: Settings) -> tuple[dict[str, Any], list[BaseRoute]]:
    """The fakes by platform and their mounts. A fake checks the credentials of the configured
    connectors that point at it (the first of each type)."""
    from relay.sandbox.meta import FakeMeta
    from relay.sandbox.x import FakeX

    fakes: dict[str, Any] = {
        "meta": FakeMeta.for_settings(settings),
        "x": FakeX.for_settings(settings),
    }
    mounts: list[BaseRoute] = [Mount(f"/sandbox/{name}", app=fake.app) for name, fake in fakes.items()]
    from relay.sandbox.shop import shop_routes

    return fakes, [*mounts, Mount("/sandbox/shop", routes=shop_routes())]
