# Buurtkas: slim, non-root, migrations before the server starts.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml ./
COPY app ./app
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11-slim
# PYTHONPATH puts /srv/buurtkas/app (with alembic.ini and migrations beside it) before site-packages.
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/srv/buurtkas PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 ENVIRONMENT=production \
    PROMETHEUS_MULTIPROC_DIR=/tmp/buurtkas-metrics
RUN useradd --system --uid 10001 --home-dir /srv/buurtkas --create-home buurtkas
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/buurtkas
COPY --chown=buurtkas:buurtkas alembic.ini ./
COPY --chown=buurtkas:buurtkas migrations ./migrations
COPY --chown=buurtkas:buurtkas app ./app
COPY --chown=buurtkas:buurtkas templates ./templates
USER buurtkas
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"
CMD ["sh", "-c", "buurtkas db upgrade && exec buurtkas serve --host 0.0.0.0 --port 8000 --workers ${WORKERS:-2}"]
