"""Records for the experiment-management browser tests, written into the server's own
records file and storage (run as `python -m tests.browser.experiments_seed` with the
server's AUTOML_VAR_DIR). Prints the ids the tests need as JSON."""

from __future__ import annotations

import json
import os


def main() -> dict[str, object]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "automl_lite.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.management import call_command

    from automl_lite import wiring
    from tests.jobs.factories import store_dataset, store_job
    from training_image.contract import artifact_key

    call_command("migrate", "--noinput", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(
        username=settings.AUTOML_LOCAL_USERNAME, defaults={"is_staff": True, "is_superuser": True}
    )
    iris = store_dataset(user)
    completed = []
    for n in range(24):
        job = store_job(
            user,
            iris,
            status="completed",
            created_at=f"2026-11-{1 + n:02d}T10:00:00.000000Z",
            started_at=f"2026-11-{1 + n:02d}T10:00:05.000000Z",
            completed_at=f"2026-11-{1 + n:02d}T10:02:05.000000Z",
            tags=["baseline"] if n % 2 else [],
            metrics={"accuracy": 0.9 + n / 1000, "best_estimator": "lgbm", "training_time": 100},
        )
        evaluation = {
            "test_metrics": {"accuracy": 0.9 + n / 1000},
            "feature_importance": [
                {"feature": "petal length (cm)", "importance": 0.5 + n / 100},
                {"feature": "sepal width (cm)", "importance": 0.1},
            ],
            "leaderboard": [{"estimator": "lgbm", "best_score": 0.9, "trials": 3}],
        }
        key = artifact_key(job.job_id, "evaluation.json")
        wiring.storage("models").save(key, ContentFile(json.dumps(evaluation).encode()))
        completed.append(
            wiring.job_repository().update(job.job_id, artifacts={"evaluation.json": key})
        )
    failed = [
        store_job(user, iris, status="failed", error_type="data", error_message="Bad data.")
        for _ in range(3)
    ]
    running = store_job(user, iris, status="running", started_at="2026-12-01T10:00:00.000000Z")
    return {
        "dataset_id": iris.dataset_id,
        "completed": [j.job_id for j in completed],
        "failed": [j.job_id for j in failed],
        "running": running.job_id,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
