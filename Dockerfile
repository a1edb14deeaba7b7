# Buurtkas: slim, non-root, migrations before the server starts.
# tests/test_dockerfile.py replays this file step by step (see there for what it checks).
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml ./
COPY app ./app
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .
# The tree the server runs from, laid out here so the runtime stage gets it in one layer: readable by
# everyone and writable by root alone, whatever the umask of the checkout it was built from.
COPY alembic.ini /srv/buurtkas/
COPY migrations /srv/buurtkas/migrations
COPY app /srv/buurtkas/app
COPY templates /srv/buurtkas/templates
RUN chmod -R u=rwX,go=rX /srv/buurtkas

FROM python:3.11-slim
# PYTHONPATH puts /srv/buurtkas/app (with alembic.ini and migrations beside it) before site-packages.
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/srv/buurtkas PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 ENVIRONMENT=production \
    PROMETHEUS_MULTIPROC_DIR=/tmp/buurtkas-metrics
COPY --from=build /opt/venv /opt/venv
COPY --from=build /srv/buurtkas /srv/buurtkas
# The code belongs to root; the app's user (10001:10001) may write only var/: photos (MEDIA_DIR) and print
# batches (PRINT_DIR). Mount a volume there to keep them.
RUN groupadd --system --gid 10001 buurtkas \
    && useradd --system --uid 10001 --gid buurtkas --no-create-home --home-dir /srv/buurtkas \
       --shell /usr/sbin/nologin buurtkas \
    && install -d -o buurtkas -g buurtkas -m 0700 /srv/buurtkas/var
WORKDIR /srv/buurtkas
USER buurtkas
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"
CMD ["sh", "-c", "buurtkas db upgrade && exec buurtkas serve --host 0.0.0.0 --port 8000 --workers ${WORKERS:-2}"]
