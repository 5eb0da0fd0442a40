# The production image: one image for web (gunicorn), worker and beat.
FROM python:3.12-slim-bookworm AS assets
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY bin/vendor-assets bin/
RUN mkdir -p static && bin/vendor-assets

FROM python:3.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
RUN pip install --no-cache-dir -c constraints.txt . && useradd --create-home daramad \
 && mkdir -p /var/lib/daramad/media && chown daramad /var/lib/daramad/media
COPY . .
COPY --from=assets /app/static/vendor static/vendor
RUN python bin/compile-messages \
 && DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput
USER daramad
EXPOSE 8000
CMD ["gunicorn", "revops.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2"]
