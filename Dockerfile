# Wirewatch: slim, non-root, pinned dependencies, no secrets baked in.
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps .

FROM python:3.11-slim
# The SQLite default (one instance, no compose) writes under /app/data: the user owns it.
RUN useradd --create-home --uid 10001 wirewatch \
 && mkdir -p /app/data \
 && chown wirewatch /app/data
COPY --from=build /opt/venv /opt/venv
COPY config /app/config
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    WIREWATCH_CONFIG=/app/config/default.toml \
    WIREWATCH_HEALTH__HOST=0.0.0.0
USER wirewatch
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"
ENTRYPOINT ["wirewatch"]
CMD ["run"]
