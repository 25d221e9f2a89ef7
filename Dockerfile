# The assistant as a container: `safeguarding-assistant serve` (polling by default, or the
# webhook), with /healthz, /readyz and /metrics on port 8080. Steps and settings: docs/deploy.md.
#
# Two stages: the first builds the wheel from the source; the second installs only that wheel
# (the program, its national knowledge and the partnerships' packs) and its dependencies, so the
# image holds no source tree, tests or build tools.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY knowledge knowledge
COPY config config
RUN pip wheel --no-deps -w /dist .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Relative paths (var/assistant.db, var/outbox) are relative to this folder.
    ASSISTANT_HOME=/app

# A system user without a login shell; it owns only var/ (the database and .eml folder).
RUN groupadd --system --gid 10001 assistant \
    && useradd --system --uid 10001 --gid assistant --home-dir /app --shell /usr/sbin/nologin assistant

WORKDIR /app
COPY --from=build /dist /dist
# What start-up derives from the knowledge (its vectors, indexes and parsed YAML: knowledge/
# cache.py) is made here, by `check`, into a folder outside the var/ volume: the image's
# knowledge never changes, so every start reads it (about 90 MB and 0.7 s to a first answer)
# instead of computing it (about 135 MB and 1.3 s). At run time the folder is read-only.
ENV ASSISTANT_CACHE_DIR=/app/cache
# Compiled at install: at run time the file system is read-only (compose.yaml).
RUN python -m venv /venv && /venv/bin/pip install --compile /dist/*.whl && rm -rf /dist \
    && mkdir -p /app/var /app/config /app/cache && chown assistant:assistant /app/var \
    && /venv/bin/safeguarding-assistant check && chmod -R a+rX /app/cache

ENV PATH=/venv/bin:$PATH
USER assistant
# The SQLite database (sessions, notifications, the outbox) and the .eml folder live here.
VOLUME ["/app/var"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
# SIGTERM (docker stop) drains updates and releases outbox claims; give it time to
# (stop_grace_period in compose.yaml, --time with docker stop).
STOPSIGNAL SIGTERM
CMD ["safeguarding-assistant", "serve", "--host", "0.0.0.0", "--port", "8080"]
