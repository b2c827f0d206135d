# alphaloop: the package built from this repository, for the service, the research
# workers and the Ray head of docker-compose.yml (one image, so every Ray node runs
# the same Python, Ray and alphaloop versions).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ALPHALOOP_HOME=/workspace

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install ".[postgres,ray,service]" \
    && useradd --create-home --uid 1000 alphaloop \
    && mkdir -p /workspace \
    && chown alphaloop:alphaloop /workspace
USER alphaloop
WORKDIR /workspace

ENTRYPOINT ["alphaloop"]
CMD ["--help"]
