# syntax=docker/dockerfile:1.7
#
# The Plugboard image. One image, four commands (docker-compose.yml runs each):
#   api      gunicorn --config /etc/plugboard/gunicorn.conf.py   (the default CMD)
#   worker   plugboard worker
#   cron     plugboard cron
#   migrate  plugboard db upgrade   (one-off, as the database owner role)
# Configuration comes from PLUGBOARD_* variables (see docs/configuration.md); the image
# defaults to PLUGBOARD_ENV=production, which refuses to start without a real
# PLUGBOARD_SECRET_KEY and PLUGBOARD_DATABASE_URL.
#
# The base image is pinned to a patch release so a rebuild is the same Python; pin its
# digest too (python:3.11.11-slim-bookworm@sha256:…) when your registry policy asks for it,
# and move the pin with each Python security release.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# --- build: install the locked dependencies, then Plugboard, into a virtualenv -----------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN python -m venv /opt/plugboard
ENV PATH=/opt/plugboard/bin:$PATH

WORKDIR /src
# The lock before the code: this layer, the slow one, is rebuilt only when the lock
# changes. Every file is checked against its hash; wheels only, so nothing compiles.
# pip's cache lives in a BuildKit cache mount, shared between builds, never in the image.
COPY deploy/requirements.lock deploy/requirements.lock
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --require-hashes --only-binary=:all: -r deploy/requirements.lock

# .dockerignore keeps the context to what the package needs (no .venv, var/, tests, .env).
COPY pyproject.toml README.md ./
COPY kernel kernel
COPY hookspecs hookspecs
COPY plugins plugins
COPY migrations migrations
COPY plugboard plugboard
# The project alone: its dependencies are all in place (pip check proves it), and its
# build requirements come from the lock too.
RUN pip install --no-deps --no-build-isolation --no-cache-dir . && pip check

# --- runtime: the virtualenv, the gunicorn config, an unprivileged user ----------------
FROM ${PYTHON_IMAGE}

ENV PATH=/opt/plugboard/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PLUGBOARD_ENV=production \
    PLUGBOARD_DATA_DIR=/var/lib/plugboard

RUN groupadd --system --gid 10001 plugboard \
 && useradd --system --uid 10001 --gid plugboard --no-create-home \
            --home-dir /nonexistent --shell /usr/sbin/nologin plugboard \
 && install -d -o plugboard -g plugboard -m 0750 /var/lib/plugboard

COPY --from=build /opt/plugboard /opt/plugboard
COPY deploy/gunicorn.conf.py /etc/plugboard/gunicorn.conf.py

# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/plugboard
EXPOSE 8000

# No HEALTHCHECK here: the same image runs the worker, cron and migrate, which serve no
# HTTP; docker-compose.yml probes the api's /health.
CMD ["gunicorn", "--config", "/etc/plugboard/gunicorn.conf.py"]
