# One image for web, worker, beat and the migrate step of docker-compose.yml; each runs its own command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

WORKDIR /app
RUN groupadd --system tierboard && useradd --system --gid tierboard --home-dir /app --no-create-home tierboard

# Dependencies first, so a code change does not reinstall them (psycopg[binary] ships its own libpq).
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files are part of the image (whitenoise serves them). Production settings insist on a real
# key, database and broker; collectstatic contacts none of them, so build-only values are enough.
RUN DJANGO_SECRET_KEY=build-only-key-collectstatic-never-serves-a-request-0123456789 \
    DATABASE_URL=postgres://build@localhost:5432/build \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput --verbosity 0

# The code stays owned by root and read-only for the process that serves it; uploaded imports wait
# in var/imports (a volume that web and worker share), the one directory it writes.
RUN mkdir -p var/imports && chown tierboard:tierboard var/imports
USER tierboard
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", \
     "--limit-request-line", "4094", "--limit-request-fields", "100", "--limit-request-field_size", "8190"]
