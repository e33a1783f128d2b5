"""Readable sandbox pages: ``GET /sandbox/`` (an index of the fakes) and each fake's ``/_state`` as an
HTML page for a browser (``Accept: text/html``); every other client keeps the JSON.

The HTML is rendered from the fake's own JSON, so a new fake gets a readable page with no code here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem;color:#1d2433}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}a{color:#1f5fbf}
table{border-collapse:collapse;width:100%;font-size:13px;display:block;overflow-x:auto}
th,td{border:1px solid #d8dde6;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f8}td code{white-space:pre-wrap;word-break:break-all}.muted{color:#667}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}
"""
#: the longest a cell's text gets before it is cut
_CELL = 160


def page(title: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f'<p class="muted"><a href="/sandbox/">Sandbox</a></p><h1>{escape(title)}</h1>{body}</body></html>'
    )
    return HTMLResponse(html, headers={"cache-control": "no-store"})


def index_route(fakes: Mapping[str, Any]) -> Any:
    """The ``GET /sandbox/`` handler: the demo shop and each fake platform's state page."""

    async def index(request: Request) -> HTMLResponse:
        items = "".join(
            f'<li><a href="/sandbox/{escape(name)}/_state">{escape(name)}</a> '
            f'<span class="muted">fake {escape(type(fake).__name__)}: events and audience members received'
            "</span></li>"
            for name, fake in fakes.items()
        )
        body = (
            "<p>Fake ad platforms served by this relay (<code>sandbox: true</code>): connectors pointed at "
            "them deliver here instead of to the real platforms.</p>"
            '<ul><li><a href="/sandbox/shop/">Demo shop</a> <span class="muted">click through a purchase'
            "</span></li>"
            '<li><a href="/admin/">Dashboard</a> <span class="muted">deliveries and traces</span></li></ul>'
            f"<h2>Fake platforms</h2><ul>{items}</ul>"
        )
        return page("Relay sandbox", body)

    return index


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    short = text if len(text) <= _CELL else text[: _CELL - 1] + "…"
    return f"<td><code>{escape(short)}</code></td>"


def _table(rows: list[Any]) -> str:
    if not rows:
        return '<p class="muted">none yet</p>'
    if not all(isinstance(row, dict) for row in rows):
        return "<table>" + "".join(f"<tr>{_cell(r)}</tr>" for r in rows) + "</table>"
    columns = list(dict.fromkeys(key for row in rows for key in row))
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(row.get(c, "")) for c in columns) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_state(name: str, state: Any) -> str:
    """The body of a fake's state page: counts, then each list (events, members) as a table."""
    if not isinstance(state, dict):
        return f"<pre>{escape(json.dumps(state, indent=2))}</pre>"
    counts = {k: v for k, v in state.items() if not isinstance(v, dict | list)}
    parts = ["<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in counts.items())]
    parts.append("</dl>")
    for key, value in state.items():
        title = escape(key.replace("_", " "))
        if isinstance(value, list):
            parts.append(f"<h2>{title} ({len(value)})</h2>{_table(value)}")
        elif isinstance(value, dict) and value and all(isinstance(v, list) for v in value.values()):
            for sub, rows in value.items():
                parts.append(f"<h2>{title}: {escape(str(sub))} ({len(rows)} shown)</h2>{_table(rows)}")
        elif isinstance(value, dict):
            rows = [{"id": k, "value": v} for k, v in value.items()]
            parts.append(f"<h2>{title} ({len(rows)})</h2>{_table(rows)}")
    parts.append(f'<p class="muted">JSON: <a href="?format=json">{escape(name)}/_state</a></p>')
    return "".join(parts)


class ReadableState:
    """ASGI wrapper of a fake: ``GET …/_state`` from a browser gets HTML, anything else passes through."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._wants_html(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        try:
            state = json.loads(body) if start is not None and start["status"] == 200 else None
        except ValueError:
            state = None
        if state is None:
            for message in messages:
                await send(message)
            return
        title = f"Fake {self.name}: what it received"
        await page(title, render_state(self.name, state))(scope, receive, send)

    @staticmethod
    def _wants_html(scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].endswith("/_state"):
            return False
        if b"format=json" in scope.get("query_string", b""):
            return False
        headers = dict(scope["headers"])
        return b"text/html" in headers.get(b"accept", b"")
