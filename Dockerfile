FROM python:3.11-slim
# Logs straight to `docker compose logs`; the service stops cleanly on SIGTERM (see watcher.scheduler).
ENV PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY watcher ./watcher
COPY spiders ./spiders
COPY alembic ./alembic
COPY seeds ./seeds
RUN pip install --no-cache-dir -e .
USER nobody
EXPOSE 8000
STOPSIGNAL SIGTERM
ENTRYPOINT ["watcher"]
