"""The built-in platform sandbox: fake Meta and X endpoints under ``/sandbox/`` (``sandbox: true``).

The fakes validate payloads like the real platforms and keep what they accepted, so ``make run``
shows a whole round trip with no platform account; ``GET /sandbox/<platform>/_state`` shows it.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Mount, Route

from relay.settings import Settings


def build_sandbox(settings: Settings) -> tuple[dict[str, Any], list[BaseRoute]]:
    """The fakes by platform and their mounts. A fake checks the credentials of the configured
    connectors that point at it (the first of each type)."""
    from relay.sandbox.google import FakeGoogleAds
    from relay.sandbox.linkedin import FakeLinkedIn
    from relay.sandbox.meta import FakeMeta
    from relay.sandbox.pinterest import FakePinterest
    from relay.sandbox.reddit import FakeReddit
    from relay.sandbox.snap import FakeSnap
    from relay.sandbox.tiktok import FakeTikTok
    from relay.sandbox.webhook import FakeWebhook
    from relay.sandbox.x import FakeX

    fakes: dict[str, Any] = {
        "meta": FakeMeta.for_settings(settings),
        "x": FakeX.for_settings(settings),
        "tiktok": FakeTikTok.for_settings(settings),
        "snap": FakeSnap.for_settings(settings),
        "pinterest": FakePinterest.for_settings(settings),
        "reddit": FakeReddit.for_settings(settings),
        "linkedin": FakeLinkedIn.for_settings(settings),
        "google_ads": FakeGoogleAds.for_settings(settings),
        "webhook": FakeWebhook.for_settings(settings),
    }
    from relay.sandbox.pages import ReadableState, index_route

    mounts: list[BaseRoute] = [
        Mount(f"/sandbox/{name}", app=ReadableState(fake.app, name)) for name, fake in fakes.items()
    ]
    mounts += [Route("/sandbox/", index_route(fakes)), Route("/sandbox", index_route(fakes))]
    from relay.sandbox.shop import shop_routes

    return fakes, [*mounts, Mount("/sandbox/shop", routes=shop_routes())]
