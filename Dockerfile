# syntax=docker/dockerfile:1
# Build stage: install deploybot and its pinned dependencies into a virtualenv.
FROM python:3.11.14-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt .

# Runtime stage: only the virtualenv, run as an unprivileged numeric user.
FROM python:3.11.14-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DEPLOYBOT_STORE=sqlite:////data/deploybot.db \
    DEPLOYBOT_CONFIG=/config/deploybot.yml
COPY --from=build /opt/venv /opt/venv
WORKDIR /data
RUN chown 10001:10001 /data
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:3000/healthz').status != 200)"]
ENTRYPOINT ["deploybot"]
CMD ["serve"]
