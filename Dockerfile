# syntax=docker/dockerfile:1
# mcm-sync in a container:
#   docker build -t mcm-sync .
#   docker run --rm mcm-sync --version
#   docker compose up -d          (compose.yaml: PostgreSQL, two workers, the real-time front)
# The build stage turns the source into a wheel; the image holds only that wheel, installed
# in a virtual environment and run by a user without privileges. The install steps are
# scripts/container-install, which CI (scripts/test-wheel) also runs on a clean copy of this
# build context as .dockerignore leaves it: what is checked there is what is built here.
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN sh scripts/container-install build /src /dist

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="mcm-sync" \
      org.opencontainers.image.description="Run a Migrant Community Mediators regional alliance: playbooks, Trello/Slack/Mailchimp bootstrap and sync." \
      org.opencontainers.image.licenses="EUPL-1.2"
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/mcm-sync/bin:$PATH
COPY --from=build /dist /tmp/dist
COPY scripts/container-install scripts/container-healthcheck /usr/local/lib/mcm-sync/
RUN sh /usr/local/lib/mcm-sync/container-install install /tmp/dist /opt/mcm-sync \
    && rm -rf /tmp/dist \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/mcm-sync \
       --shell /usr/sbin/nologin mcm-sync \
    && mkdir /alliances && chown mcm-sync:mcm-sync /alliances
USER mcm-sync
WORKDIR /home/mcm-sync
# `mcm-sync serve` listens on 8080 by default (pass --host 0.0.0.0 to be reachable from
# outside the container). The check asks its /healthz, which answers 503 until serve is
# ready; a worker container, which serves nothing, turns it off (compose.yaml does).
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/usr/local/lib/mcm-sync/container-healthcheck"]
ENTRYPOINT ["mcm-sync"]
CMD ["--help"]
