"""Seed a var dir with a trained model stored as a job of the local user, for browser tests.

    python -m tests.browser.seed VAR_DIR [--deployed]   # prints the job id

Runs the container's pipeline for a few seconds on `tests.jobs.trained.mixed_frame` (a number
with gaps, a category, a yes/no column, free text and a date), in its own process so the
server under test reads the same records and media.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("var_dir")
    parser.add_argument("--deployed", action="store_true")
    args = parser.parse_args()
    os.environ["AUTOML_VAR_DIR"] = args.var_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "automl_lite.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from tests.jobs.factories import store_dataset
    from tests.jobs.trained import mixed_frame, store_trained_job, train

    call_command("migrate", "--noinput", verbosity=0)
    call_command("create_tables", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(
        username=settings.AUTOML_LOCAL_USERNAME, defaults={"is_staff": True, "is_superuser": True}
    )
    frame = mixed_frame()
    dataset = store_dataset(user, content=frame.to_csv(index=False).encode(), filename="churn.csv")
    out = Path(args.var_dir) / "seed-model"
    result = train(frame, "churn", out, estimators=["lgbm"], budget=4)
    job = store_trained_job(user, dataset, result, out, deployed=args.deployed)
    print(job.job_id)


if __name__ == "__main__":
    main()
