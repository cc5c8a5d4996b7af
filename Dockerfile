# syntax=docker/dockerfile:1
# crlm team server image: non-root, runs with a read-only root filesystem (writable: the /data
# volume and a /tmp tmpfs), health-checked on /healthz. See docs/deploy.md and compose.yaml.

ARG PYTHON_VERSION=3.12

# ---- build: a virtual environment with crlm and its dependencies --------------------------
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# a C compiler for crlm's compiled loops (crlm.stats._cloops); only in this stage
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
COPY pyproject.toml setup.py README.md /src/
COPY src /src/src
# [all]: web server, PostgreSQL driver, reports (pip only warns about an extra it does not know)
RUN /opt/venv/bin/pip install "/src[all]" \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} + \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib

# ---- runtime ------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim
# pango for PDF reports (WeasyPrint), a font for figures
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 crlm \
 && useradd --system --uid 10001 --gid crlm --home-dir /data --no-create-home crlm \
 && mkdir -p /data && chown crlm:crlm /data && chmod 0700 /data
COPY --from=build /opt/venv /opt/venv
COPY deploy/entrypoint.sh /usr/local/bin/crlm-entrypoint

# Nothing is written outside /data and /tmp: caches go to /tmp, the key file (when no
# CRLM_SECRET_KEY(_FILE) is given) and a SQLite database to /data.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/data \
    XDG_CONFIG_HOME=/data/config \
    XDG_CACHE_HOME=/tmp/cache \
    MPLCONFIGDIR=/tmp/matplotlib \
    NUMBA_CACHE_DIR=/tmp/numba \
    CRLM_DATABASE_URL=sqlite:////data/crlm.db \
    CRLM_HOST=0.0.0.0 \
    CRLM_PORT=8000 \
    CRLM_LOG_FORMAT=json

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CRLM_PORT', '8000'), timeout=4)" || exit 1

ENTRYPOINT ["crlm-entrypoint"]
