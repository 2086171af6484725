# syntax=docker/dockerfile:1
# One image per process, from one file: `docker build --target <process> .` with <process> one of
# users, catalog, orders, payments, gateway (the Procfile's processes) or migrate (the migration
# job: `shopctl migrate --database core|orders|payments`). README "Deploying".
#
#   docker build --target payments --build-arg GIT_REVISION="$(git rev-parse HEAD)" -t nameko-shop-payments .
#
# The build stage has the compilers; the final stages copy its virtualenv and the source only.
# Every package comes from the lock file requirements/runtime.txt, hashes checked (`make lock`).

# --- build: compilers, the virtualenv, the project ------------------------------------------------
FROM python:3.11-slim-bookworm AS build
# Unpinned on purpose: the suite's current (security-patched) build tools; they never reach a final stage.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app
# The dependencies first, in their own layer: only a new lock reinstalls them. Every package the
# processes import, transitive ones included, pinned and hash-checked (setuptools among them: nameko
# imports pkg_resources, and it builds the project below without a download).
COPY requirements/runtime.txt ./requirements/runtime.txt
RUN pip install --require-hashes -r requirements/runtime.txt
COPY setup.cfg pyproject.toml README.md ./
COPY nameko_services ./nameko_services
COPY gateway ./gateway
# The storefront and back office the gateway serves (static files, no build step).
COPY web ./web
COPY migrations ./migrations
COPY config ./config
COPY Procfile ./
# Editable, as in development: common.migrate finds migrations/ beside the package, in /app.
# --no-deps: nothing beyond the lock; --no-build-isolation: built with the lock's setuptools.
RUN pip install --no-deps --no-build-isolation -e . \
    && python -m compileall -q /app/nameko_services /app/gateway /app/migrations

# --- runtime: what every process image shares; no compiler, a user without privileges -------------
# The same Python image as the build stage (the virtualenv's interpreter is its /usr/local/bin/python).
FROM python:3.11-slim-bookworm AS runtime
ARG GIT_REVISION=unknown
ARG SOURCE_URL=https://github.com/nameko-shop/nameko-shop
RUN groupadd --system --gid 10001 shop \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin shop
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
# Keys come from a mounted Secret (Kubernetes) or the compose volume; var/keys is the shop user's
# so that development (SHOP_ENV=development) can create them there.
RUN mkdir -p /app/var/keys && chown 10001:10001 /app/var /app/var/keys
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    SHOP_KEYS_DIR=/app/var/keys SHOP_METRICS_HOST=0.0.0.0 SHOP_GATEWAY_HOST=0.0.0.0 SHOP_GATEWAY_PORT=8000
LABEL org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${GIT_REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.vendor="nameko-shop"
USER 10001:10001

# --- one target per process -----------------------------------------------------------------------
# HEALTHCHECK: the process's own /health (services: their metrics port, config/<service>.yaml;
# gateway: 8000). Python's urllib, as the slim image has no curl.

FROM runtime AS users
LABEL org.opencontainers.image.title="nameko-shop-users" \
      org.opencontainers.image.description="nameko-shop users service (accounts, OAuth 2.0)"
EXPOSE 9101
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9101/health', timeout=2)"]
CMD ["nameko", "run", "--config", "config/users.yaml", "nameko_services.users.service"]

FROM runtime AS catalog
LABEL org.opencontainers.image.title="nameko-shop-catalog" \
      org.opencontainers.image.description="nameko-shop catalog service (products, stock)"
EXPOSE 9102
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9102/health', timeout=2)"]
CMD ["nameko", "run", "--config", "config/catalog.yaml", "nameko_services.catalog.service"]

FROM runtime AS orders
LABEL org.opencontainers.image.title="nameko-shop-orders" \
      org.opencontainers.image.description="nameko-shop orders service (the order saga)"
EXPOSE 9103
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9103/health', timeout=2)"]
CMD ["nameko", "run", "--config", "config/orders.yaml", "nameko_services.orders.service"]

FROM runtime AS payments
LABEL org.opencontainers.image.title="nameko-shop-payments" \
      org.opencontainers.image.description="nameko-shop payments service"
EXPOSE 9104
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9104/health', timeout=2)"]
CMD ["nameko", "run", "--config", "config/payments.yaml", "nameko_services.payments.service"]

FROM runtime AS gateway
LABEL org.opencontainers.image.title="nameko-shop-gateway" \
      org.opencontainers.image.description="nameko-shop HTTP gateway"
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["uvicorn", "--factory", "gateway.app:create_app", "--no-access-log", "--no-server-header", \
     "--no-proxy-headers", "--host", "0.0.0.0", "--port", "8000"]

# The migration job: runs once and exits, nothing to check while it runs.
FROM runtime AS migrate
LABEL org.opencontainers.image.title="nameko-shop-migrate" \
      org.opencontainers.image.description="nameko-shop database migrations (Alembic), one database per run"
HEALTHCHECK NONE
CMD ["shopctl", "migrate", "--database", "all"]
