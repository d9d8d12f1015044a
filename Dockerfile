FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY watcher ./watcher
COPY spiders ./spiders
COPY alembic ./alembic
COPY seeds ./seeds
RUN pip install --no-cache-dir -e .
USER nobody
ENTRYPOINT ["watcher"]
