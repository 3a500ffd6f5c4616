# The one image behind the web, worker and beat services of docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings that load; these values exist only during the build.
RUN DJANGO_SECRET_KEY=build-only-not-secret-build-only-not-secret-build-only \
    DJANGO_ALLOWED_HOSTS=localhost \
    GROUPCARE_FIELD_ENCRYPTION_KEYS=YnVpbGQtb25seS1ub3Qtc2VjcmV0LWJ1aWxkLW9ubHk= DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    CELERY_BROKER_URL=memory:// GROUPCARE_VAR_DIR=/tmp/build \
    python manage.py collectstatic --noinput \
 && useradd --system --uid 10001 --home-dir /app groupcare \
 && mkdir -p /app/var && chown groupcare /app/var
USER groupcare

EXPOSE 8000
CMD ["gunicorn", "groupcare.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
