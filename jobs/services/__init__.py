"""Job services: create, submit, cancel, resubmit, delete, tags/notes, deploy, predict, reconcile.

Every function takes keyword arguments; collaborators (repositories, runner) are
passed in or taken from `automl_lite.wiring`. Status changes go through the
repository's conditional `transition`, so a late write never overrides a newer one.

The functions live in one module per concern (`create`, `lifecycle`, `delete`, `meta`,
`predict`, `reconcile`, `purge`, and `handoff` below create and lifecycle); this package
re-exports them, so callers keep `from jobs import services` / `services.job_create(...)`.
A test that patches a name must patch it on the submodule that looks it up.
"""

from __future__ import annotations

from jobs.services.create import (
    IDEMPOTENCY_NAMESPACE,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    analysis_profiles,
    idempotent_job_id,
    job_create,
    job_train_again,
    min_time_budget,
    target_class_values,
)
from jobs.services.delete import ARTIFACT_LABELS, DeleteSummary, job_delete
from jobs.services.handoff import hand_off
from jobs.services.lifecycle import (
    is_resubmittable,
    job_cancel,
    job_requeue_interrupted,
    job_resubmit,
)
from jobs.services.meta import (
    MAX_NOTES_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    clean_tags,
    job_deploy,
    job_update_meta,
)
from jobs.services.notify import (
    job_notify,
    jobs_notify_finished,
    notification_set,
    notifications_enabled,
)
from jobs.services.predict import job_predict, job_predict_file
from jobs.services.purge import jobs_purge
from jobs.services.reconcile import (
    INTERRUPTED_WATCH,
    INTERRUPTED_WATCH_LIMIT,
    ReconcileReport,
    jobs_reconcile,
    last_sign_of_life,
    recently_interrupted,
)

__all__ = [
    "target_class_values",
    "ARTIFACT_LABELS",
    "IDEMPOTENCY_NAMESPACE",
    "INTERRUPTED_WATCH",
    "INTERRUPTED_WATCH_LIMIT",
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "MAX_NOTES_LENGTH",
    "MAX_TAGS",
    "MAX_TAG_LENGTH",
    "DeleteSummary",
    "ReconcileReport",
    "clean_tags",
    "hand_off",
    "analysis_profiles",
    "idempotent_job_id",
    "is_resubmittable",
    "job_cancel",
    "job_create",
    "job_train_again",
    "job_delete",
    "job_deploy",
    "job_notify",
    "job_predict",
    "job_predict_file",
    "job_requeue_interrupted",
    "job_resubmit",
    "job_update_meta",
    "jobs_notify_finished",
    "jobs_purge",
    "jobs_reconcile",
    "last_sign_of_life",
    "min_time_budget",
    "notification_set",
    "notifications_enabled",
    "recently_interrupted",
]
