"""gunicorn's settings for every place that serves the web app: the web image (ECS), and
`manage.py runlocal` (which adds `--bind 127.0.0.1:PORT`). One definition, read with
`gunicorn -c automl_lite/gunicorn.conf.py automl_lite.wsgi`.

Threaded workers: requests mostly wait on storage, the record store or a model session,
so a few processes with several threads each serve far more than one thread per process.
`GUNICORN_WORKERS` / `GUNICORN_THREADS` override the counts (e.g. on a bigger machine).
"""

from __future__ import annotations

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 60
# Idle keep-alive connections stay open longer than a load balancer's (the ALB's 60 s) and
# than any poller's interval, so a request never meets a connection closing under it.
keepalive = 75
graceful_timeout = 20
accesslog = "-"
