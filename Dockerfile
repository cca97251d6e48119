FROM node:20-bookworm-slim AS web
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY oneapi/ oneapi/
COPY plugins/ plugins/
COPY --from=web /src/oneapi/static/ oneapi/static/
RUN pip install --no-cache-dir . $(for p in plugins/*/; do echo "$p"; done)
ENV SQLITE_PATH=/data/one-api.db
VOLUME ["/data"]
EXPOSE 3000
ENTRYPOINT ["oneapi", "--log-dir", "/app/logs"]
