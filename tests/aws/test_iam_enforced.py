"""IAM enforced: each principal of the stack does its part of the flow, and no more.

The stack is created from the template in moto; each test takes temporary credentials of
one of the stack's roles (web function, worker function, training job) and, with moto's
access control on (`set_initial_no_auth_action_count(0)`: no request goes unauthenticated),
makes the calls the product makes as that principal, through the product's own code where
there is one. tests/aws/iam.py says what moto's evaluation does not cover.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.core import set_initial_no_auth_action_count

from core.dynamodb import ensure_table
from tests.aws.iam import aws_resolution, principal, refused
from tests.aws.stack import Stack, deploy_stack
from training_image import contract
from training_image.contract import DYNAMO_JOBS_INDEXES, DYNAMO_JOBS_KEY


@pytest.fixture
def stack(moto_batch) -> Stack:
    deployed = deploy_stack()
    # moto would run the worker function itself (in Docker) for each task message.
    lam = deployed.client("lambda")
    for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    return deployed


@pytest.fixture
def enforced(stack) -> Iterator[Callable[[Callable[[], Any]], Any]]:
    """Run a block with IAM enforced on every request (moto's access control)."""

    def run(block: Callable[[], Any]) -> Any:
        return set_initial_no_auth_action_count(0)(block)()

    with aws_resolution():
        yield run


def _clients(stack: Stack, role: str) -> Callable[[str], Any]:
    credentials = principal(stack, role)
    return lambda service: stack.client(service, **credentials)


def _job_item(job_id: str) -> dict[str, Any]:
    return {
        "job_id": {"S": job_id},
        "owner_id": {"S": "1"},
        "status": {"S": "queued"},
        "created_at": {"S": "2026-12-03T00:00:00Z"},
        "updated_at": {"S": "2026-12-03T00:00:00Z"},
        "dataset_id": {"S": "d1"},
    }


# --------------------------------------------------------------------------- web function


def test_the_web_principal_does_its_part(stack, enforced):
    aws = _clients(stack, "WebRole")
    out = stack.outputs

    def block() -> None:
        ddb = aws("dynamodb")
        ddb.put_item(TableName=out["JobsTableName"], Item=_job_item("j1"))
        ddb.get_item(TableName=out["JobsTableName"], Key={"job_id": {"S": "j1"}})
        ddb.query(
            TableName=out["JobsTableName"],
            IndexName="owner_id-created_at-index",
            KeyConditionExpression="owner_id = :o",
            ExpressionAttributeValues={":o": {"S": "1"}},
        )
        s3 = aws("s3")
        s3.put_object(Bucket=out["DatasetsBucketName"], Key="datasets/d1/x.csv", Body=b"a\n1\n")
        s3.head_object(Bucket=out["DatasetsBucketName"], Key="datasets/d1/x.csv")
        aws("sqs").send_message(QueueUrl=out["TaskQueueUrl"], MessageBody="{}")
        secrets = aws("secretsmanager")
        for arn in (out["DjangoSecretKeySecretArn"], out["DatabaseUrlSecretArn"]):
            assert secrets.get_secret_value(SecretId=arn)["SecretString"]
        aws("batch").submit_job(
            jobName="automl-j1-a1",
            jobQueue=out["TrainingJobQueueArn"],
            jobDefinition=out["TrainingJobDefinitionName"],
        )

    enforced(block)


def test_the_web_principal_is_refused_what_is_not_its_part(stack, enforced):
    aws = _clients(stack, "WebRole")
    out = stack.outputs
    other_secret = stack.client("secretsmanager").create_secret(
        Name="someone-else", SecretString="x"
    )["ARN"]
    other_queue = stack.client("sqs").create_queue(QueueName="someone-elses-queue")["QueueUrl"]

    def block() -> None:
        ddb, sqs = aws("dynamodb"), aws("sqs")
        # Table maintenance is the worker's (create_tables), never a web request's.
        assert refused(
            ddb.update_continuous_backups,
            TableName=out["JobsTableName"],
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
        )
        assert refused(ddb.delete_table, TableName=out["JobsTableName"])
        # The web enqueues tasks; only the worker consumes them.
        assert refused(sqs.receive_message, QueueUrl=out["TaskQueueUrl"])
        assert refused(sqs.send_message, QueueUrl=other_queue, MessageBody="{}")
        assert refused(aws("secretsmanager").get_secret_value, SecretId=other_secret)
        assert refused(
            aws("batch").submit_job,
            jobName="x",
            jobQueue=out["TrainingJobQueueArn"].replace("automl-lite-training", "other"),
            jobDefinition=out["TrainingJobDefinitionName"],
        )

    enforced(block)


def test_the_web_principal_terminates_only_jobs_the_app_tagged():
    # moto cannot evaluate a Condition in an identity policy (it never matches), so this
    # rule is checked on the policy document: TerminateJob only on jobs carrying the tag
    # BatchRunner puts on every submit.
    from tests.aws.test_deploy_template import resources_of

    statements = resources_of("AWS::IAM::ManagedPolicy")["AppDataPolicy"]["Properties"][
        "PolicyDocument"
    ]["Statement"]
    (stop,) = [s for s in statements if s.get("Sid") == "StopTraining"]
    assert stop["Action"] == "batch:TerminateJob"
    assert stop["Condition"] == {"StringLike": {"aws:ResourceTag/automl:job-id": "?*"}}
    from jobs.runners.batch import BatchRunner
    from tests.aws.aws_resources import s3_backend
    from tests.conftest import make_job

    request = BatchRunner(
        None, job_queue="q", job_definition="d", backend=s3_backend(), max_attempts=3
    ).submit_request(make_job(), dataset_key="datasets/x/y.csv")
    assert request["tags"]["automl:job-id"]


# --------------------------------------------------------------------------- worker function


def test_the_worker_principal_runs_create_tables_and_consumes_tasks(stack, enforced):
    aws = _clients(stack, "WorkerRole")
    out = stack.outputs
    stack.client("sqs").send_message(QueueUrl=out["TaskQueueUrl"], MessageBody="{}")

    def block() -> list[str]:
        # The product's own create_tables step, on the stack's table, as the worker.
        said = ensure_table(
            aws("dynamodb"), out["JobsTableName"], DYNAMO_JOBS_KEY, DYNAMO_JOBS_INDEXES
        )
        sqs = aws("sqs")
        (message,) = sqs.receive_message(QueueUrl=out["TaskQueueUrl"])["Messages"]
        sqs.delete_message(QueueUrl=out["TaskQueueUrl"], ReceiptHandle=message["ReceiptHandle"])
        return said or []

    said = enforced(block)
    assert isinstance(said, list)


def test_the_worker_principal_would_be_refused_create_tables_without_its_maintenance_grant(
    stack, enforced
):
    # The first-deploy failure this guards: the worker role lacked the continuous-backups
    # actions, so `manage.py create_tables` ended in AccessDenied. The web role stands in
    # for a worker role without them.
    aws = _clients(stack, "WebRole")
    out = stack.outputs

    def block() -> bool:
        try:
            ensure_table(
                aws("dynamodb"), out["JobsTableName"], DYNAMO_JOBS_KEY, DYNAMO_JOBS_INDEXES
            )
        except Exception as error:  # the AccessDenied is what is checked
            return "AccessDenied" in str(error)
        return False

    assert enforced(block)


# --------------------------------------------------------------------------- training job


def test_the_training_job_principal_does_its_part(stack, enforced):
    aws = _clients(stack, "TrainingJobRole")
    out = stack.outputs
    stack.client("s3").put_object(
        Bucket=out["DatasetsBucketName"], Key="datasets/d1/data.csv", Body=b"a,b\n1,2\n"
    )
    stack.client("dynamodb").put_item(TableName=out["JobsTableName"], Item=_job_item("j1"))

    def block() -> None:
        s3 = aws("s3")
        body = s3.get_object(Bucket=out["DatasetsBucketName"], Key="datasets/d1/data.csv")
        assert body["Body"].read() == b"a,b\n1,2\n"
        for bucket in ("ModelsBucketName", "ReportsBucketName"):
            s3.upload_fileobj(io.BytesIO(b"artifact"), out[bucket], "jobs/j1/model.pkl")
        ddb = aws("dynamodb")
        ddb.get_item(TableName=out["JobsTableName"], Key={"job_id": {"S": "j1"}})
        ddb.update_item(
            TableName=out["JobsTableName"],
            Key={"job_id": {"S": "j1"}},
            UpdateExpression="SET #s = :r",
            ConditionExpression="#s = :q",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":r": {"S": "running"}, ":q": {"S": "queued"}},
        )

    enforced(block)


def test_the_training_job_principal_is_refused_what_is_not_its_part(stack, enforced):
    aws = _clients(stack, "TrainingJobRole")
    out = stack.outputs
    stack.client("s3").put_object(Bucket=out["DatasetsBucketName"], Key="other/x.csv", Body=b"x")
    stack.client("s3").put_object(Bucket=out["ModelsBucketName"], Key="other/x.pkl", Body=b"x")

    def block() -> None:
        s3, ddb = aws("s3"), aws("dynamodb")
        # Only its own job record, and never the datasets table.
        assert refused(
            ddb.put_item,
            TableName=out["DatasetsTableName"],
            Item={"dataset_id": {"S": "d9"}, "owner_id": {"S": "1"}},
        )
        assert refused(
            ddb.update_item,
            TableName=out["DatasetsTableName"],
            Key={"dataset_id": {"S": "d1"}},
            UpdateExpression="SET #s = :x",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":x": {"S": "ready"}},
        )
        assert refused(ddb.put_item, TableName=out["JobsTableName"], Item=_job_item("j2"))
        assert refused(ddb.delete_item, TableName=out["JobsTableName"], Key={"job_id": {"S": "j1"}})
        # Only the datasets prefix to read, only jobs/ prefixes to write.
        assert refused(s3.get_object, Bucket=out["DatasetsBucketName"], Key="other/x.csv")
        assert refused(s3.get_object, Bucket=out["ModelsBucketName"], Key="other/x.pkl")
        assert refused(s3.put_object, Bucket=out["ModelsBucketName"], Key="other/y", Body=b"y")
        assert refused(
            s3.put_object, Bucket=out["DatasetsBucketName"], Key="datasets/d1/data.csv", Body=b"y"
        )
        # No secrets, no queue, no Batch.
        assert refused(
            aws("secretsmanager").get_secret_value, SecretId=out["DjangoSecretKeySecretArn"]
        )
        assert refused(aws("sqs").send_message, QueueUrl=out["TaskQueueUrl"], MessageBody="{}")
        assert refused(
            aws("batch").submit_job,
            jobName="x",
            jobQueue=out["TrainingJobQueueArn"],
            jobDefinition=out["TrainingJobDefinitionName"],
        )

    enforced(block)


def test_the_training_container_completes_a_job_as_its_principal(stack, enforced, tmp_path):
    """The container's own job store and storage code, with the job role's credentials."""
    from training_image.jobstore import DynamoJobStore
    from training_image.storage import S3Storage

    aws_keys = principal(stack, "TrainingJobRole")
    out = stack.outputs
    stack.client("dynamodb").put_item(TableName=out["JobsTableName"], Item=_job_item("j1"))
    session = boto3.Session(region_name=stack.region, **aws_keys)
    assert contract.JobStatus.RUNNING == "running"

    def block() -> None:
        store = DynamoJobStore(session.resource("dynamodb").Table(out["JobsTableName"]))
        assert store.transition("j1", contract.JobStatus.RUNNING, expected=("queued",))
        models = S3Storage(out["ModelsBucketName"], client=session.client("s3"))
        path = tmp_path / "model.onnx"
        path.write_bytes(b"onnx")
        models.write_file(
            contract.artifact_key("j1", contract.MODEL_ONNX), path, content_type="x/onnx"
        )

    enforced(block)
    listed = stack.client("s3").list_objects_v2(Bucket=out["ModelsBucketName"], Prefix="jobs/j1/")
    assert listed["KeyCount"] == 1
    item = stack.client("dynamodb").get_item(
        TableName=out["JobsTableName"], Key={"job_id": {"S": "j1"}}
    )["Item"]
    assert json.loads(json.dumps(item))["status"]["S"] == "running"
