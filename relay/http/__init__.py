"""The relay's HTTP side, apart from the pipeline: the ingest endpoints and what every handler shares.

``fast.py`` + ``asgi.py`` (the raw ASGI hot path of ``/v1/collect`` and ``/p.gif``), ``browser.py`` (those
endpoints, CORS, cookies, ``/pixel.js``), ``server_api.py`` (``/v1/events``), ``body.py`` (bodies: limits,
deadline, JSON), ``auth.py`` (API keys and the admin token), ``middleware.py`` (trusted proxy, security
headers), ``responses.py`` (the error shape), ``ops.py`` (``/healthz``, ``/readyz``, ``/metrics``).
"""
