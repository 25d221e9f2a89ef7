# The assistant as a container: `python main.py serve` (polling by default, or the webhook),
# with /healthz, /readyz and /metrics on port 8080. Steps and settings: docs/deploy.md.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A system user without a login shell; it owns only var/ (the database and .eml folder).
RUN groupadd --system --gid 10001 assistant \
    && useradd --system --uid 10001 --gid assistant --home-dir /app --shell /usr/sbin/nologin assistant

WORKDIR /app
# Dependencies first, so editing knowledge or code does not reinstall them.
COPY pyproject.toml README.md ./
COPY bot/__init__.py bot/__init__.py
COPY handlers/__init__.py handlers/__init__.py
COPY knowledge/__init__.py knowledge/__init__.py
COPY config/__init__.py config/__init__.py
COPY main.py ./
RUN python -m venv /venv && /venv/bin/pip install -e . \
    && mkdir -p /app/var && chown assistant:assistant /app/var
COPY bot bot
COPY handlers handlers
COPY knowledge knowledge
COPY config config
# Compiled now: at run time the file system is read-only (compose.yaml) and nothing is written.
RUN python -m compileall -q bot handlers knowledge config main.py

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
CMD ["python", "main.py", "serve", "--host", "0.0.0.0", "--port", "8080"]
