# conversion-relay: a small image running as a non-root user, with a health check on /healthz.
#   docker build -t conversion-relay .
#   docker run -p 8000:8000 -v $PWD/relay.yaml:/etc/relay/relay.yaml:ro conversion-relay
# compose.yaml runs it with PostgreSQL and separate `relay worker` processes.

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY relay ./relay
COPY connectors ./connectors
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RELAY_CONFIG=/etc/relay/relay.yaml \
    RELAY_HOST=0.0.0.0
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /var/lib/relay --create-home relay
# the working directory holds a SQLite database when storage.url is relative (sqlite:///relay.db)
WORKDIR /var/lib/relay
USER relay
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["relay"]
CMD ["serve"]
