# syntax=docker/dockerfile:1
#
# The Plugboard API / worker / cron image. One image, three commands:
#   api     gunicorn 'kernel:create_app()'  (the default CMD)
#   worker  plugboard worker
#   cron    plugboard cron
# Configuration comes from PLUGBOARD_* variables (see docs/configuration.md); the image
# defaults to PLUGBOARD_ENV=production, which refuses to start without a real
# PLUGBOARD_SECRET_KEY and PLUGBOARD_DATABASE_URL.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: install Plugboard and its dependencies into a virtualenv -------------------
FROM ${PYTHON_IMAGE} AS build

# Byte-code is compiled here, because the runtime user cannot write to /opt/plugboard.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/plugboard
ENV PATH=/opt/plugboard/bin:$PATH

WORKDIR /src
# .dockerignore keeps the context to what the package needs (no .venv, var/, tests).
COPY . .
RUN pip install . && pip check

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

USER plugboard:plugboard
WORKDIR /var/lib/plugboard
EXPOSE 8000

# No HEALTHCHECK here: the same image runs the worker and cron, which serve no HTTP;
# docker-compose.yml probes the api's /health.
CMD ["gunicorn", "--config", "/etc/plugboard/gunicorn.conf.py", "kernel:create_app()"]
