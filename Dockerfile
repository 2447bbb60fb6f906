# syntax=docker/dockerfile:1
# Build: docker build -t ragql .    Run: docker run -p 8000:8000 -v ragql-data:/data ragql
# The embedded default (SQLite + LanceDB under /data) needs no other service.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml constraints.txt README.md ./
COPY domain ./domain
COPY graph ./graph
RUN /opt/venv/bin/pip install -c constraints.txt .

FROM python:3.11-slim AS runtime
RUN groupadd --system --gid 10001 ragql \
 && useradd --system --uid 10001 --gid ragql --home-dir /nonexistent --shell /usr/sbin/nologin ragql \
 && mkdir -p /data && chown ragql:ragql /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/data
VOLUME ["/data"]
USER ragql:ragql
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
# `serve` applies pending migrations (guarded by a lock) before it listens.
CMD ["ragql", "serve", "--host", "0.0.0.0", "--port", "8000"]
