# The web image: Django (gunicorn) on ECS, or the same image as both Lambda functions
# (the template sets its entry point to `python -m awslambdaric`). Build from the repo root:
#   docker build --platform linux/amd64 --provenance=false -f deploy/web.Dockerfile -t automl-lite-web .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
# The model libraries (training_image/requirements-model.txt) serve explanations and model.pkl;
# the web imports them only to explain a prediction, so a cold start does not load them.
COPY requirements-web.txt deploy/requirements-lambda.txt training_image/requirements-model.txt ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-compile -r requirements-web.txt -r requirements-model.txt \
       -r requirements-lambda.txt

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=automl_lite.settings \
    AUTOML_BACKEND=aws \
    AUTOML_VAR_DIR=/tmp/automl
# LightGBM and XGBoost (explanations) need the OpenMP runtime.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1=12.2.0-14+deb12u1 \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY manage.py ./
COPY automl_lite ./automl_lite
COPY core ./core
COPY datasets ./datasets
COPY jobs ./jobs
COPY templates ./templates
COPY static ./static
COPY training_image ./training_image
# Static files are collected at build time (whitenoise serves them from the image);
# the AWS settings need their variables, which only name things here.
# Then compiled bytecode: a cold Lambda start would otherwise compile every module on a
# read-only file system (and again on every cold start). Unchecked hashes skip the
# per-import timestamp check; the image never changes after the build.
RUN DJANGO_SECRET_KEY=collectstatic-only AWS_REGION=us-east-1 \
    AUTOML_DATASETS_BUCKET=build AUTOML_MODELS_BUCKET=build AUTOML_REPORTS_BUCKET=build \
    AUTOML_DATASETS_TABLE=build AUTOML_JOBS_TABLE=build AUTOML_BATCHES_TABLE=build \
    AUTOML_BATCH_JOB_QUEUE=build AUTOML_BATCH_JOB_DEFINITION=build \
    python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash /app /opt/venv/lib
USER 10001
EXPOSE 8000
# gunicorn's settings live in automl_lite/gunicorn.conf.py, shared with `manage.py runlocal`.
CMD ["gunicorn", "-c", "automl_lite/gunicorn.conf.py", "automl_lite.wsgi"]
