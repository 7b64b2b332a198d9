"""deploy/: the CloudFormation template is linted, scanned, and deployed into moto.

moto's CloudFormation cannot create AWS::ApiGatewayV2::* (the HTTP API), AWS::S3::BucketPolicy
or AWS::SQS::QueuePolicy, and ignores some properties of the types it creates (bucket
versioning, lifecycle, CORS, public access block, table PITR, Lambda package type). The
created resources are checked through their APIs; the rest is checked on the template.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from cfnlint.decode import decode

from jobs.runners.batch import RETRY_STRATEGY, BatchRunner
from tests.aws import moto_cfn
from tests.aws.conftest import REGION
from tests.aws.stack import declared_resources, deploy_stack
from tests.conftest import make_job
from training_image import contract

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "automl-lite.yaml"
MOTO_CANNOT_CREATE = moto_cfn.STILL_UNSUPPORTED


def template() -> dict:
    decoded, problems = decode(str(TEMPLATE))
    assert not problems
    return decoded


def resources_of(kind: str) -> dict:
    return {k: v for k, v in template()["Resources"].items() if v["Type"] == kind}


def settings_required_aws_variables() -> list[str]:
    """The variables automl_lite/settings.py requires in AWS mode (`_required("NAME")`)."""
    source = (REPO / "automl_lite" / "settings.py").read_text()
    return re.findall(r'_required\("([A-Z_]+)"\)', source)


# --------------------------------------------------------------------------- lint and scan


def test_it_passes_cfn_lint():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")

    result = subprocess.run(
        [str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr


def _checkov() -> str:
    candidates = [os.environ.get("CHECKOV"), str(REPO / ".venv-checkov" / "bin" / "checkov")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("checkov")
    if found:
        return found
    message = "checkov is not installed (make checkov installs it into .venv-checkov)"
    if os.environ.get("AUTOML_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def test_it_passes_checkov_with_every_skip_explained():
    result = subprocess.run(
        [
            _checkov(),
            "--file",
            str(TEMPLATE),
            "--framework",
            "cloudformation",
            "--skip-download",  # no network: use the bundled checks only
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    report = json.loads(result.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 90
    for check in report["results"]["skipped_checks"]:
        assert len(check["check_result"].get("suppress_comment", "")) > 20, check["check_id"]


def test_it_lints_the_web_dockerfile():
    hadolint = Path(sys.executable).with_name("hadolint")

    result = subprocess.run(
        [str(hadolint), str(REPO / "deploy" / "web.Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout


# --------------------------------------------------------------------------- the template's promises


def test_it_defines_the_tables_with_the_contract_keys_and_indexes():
    tables = resources_of("AWS::DynamoDB::Table")
    expected = {
        "DatasetsTable": (contract.DYNAMO_DATASETS_KEY, contract.DYNAMO_DATASETS_INDEXES),
        "JobsTable": (contract.DYNAMO_JOBS_KEY, contract.DYNAMO_JOBS_INDEXES),
        "BatchesTable": (contract.DYNAMO_BATCHES_KEY, contract.DYNAMO_BATCHES_INDEXES),
    }
    for name, (key, indexes) in expected.items():
        properties = tables[name]["Properties"]
        assert properties["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
        found = {
            index["IndexName"]: tuple(k["AttributeName"] for k in index["KeySchema"])
            for index in properties["GlobalSecondaryIndexes"]
        }
        assert found == indexes
        assert properties["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["SSESpecification"] == {"SSEEnabled": True}


def test_it_locks_down_every_bucket():
    for name, bucket in resources_of("AWS::S3::Bucket").items():
        properties = bucket["Properties"]
        assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}, name
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}, name
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"], name
        rules = properties["LifecycleConfiguration"]["Rules"]
        assert any("NoncurrentVersionExpiration" in r for r in rules), name
        assert any("AbortIncompleteMultipartUpload" in r for r in rules), name
        assert bucket["DeletionPolicy"] == "Retain", name
    policies = resources_of("AWS::S3::BucketPolicy")
    assert len(policies) == len(resources_of("AWS::S3::Bucket"))  # TLS-only on each


def test_it_lets_the_browser_post_to_the_datasets_bucket_only():
    buckets = resources_of("AWS::S3::Bucket")
    cors = buckets["DatasetsBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert cors[0]["AllowedMethods"] == ["POST", "PUT"]
    # The configured client origins (the earlier edition's front end PUTs its file) get their
    # own rule, and the web app's CORS allows the same origins.
    condition, client_rule, _ = cors[1]["Fn::If"]
    assert condition == "HasClientOrigins"
    assert client_rule["AllowedMethods"] == ["POST", "PUT"]
    assert client_rule["AllowedOrigins"] == {"Fn::Split": [",", {"Ref": "ClientOrigins"}]}
    web = resources_of("AWS::Lambda::Function")["WebFunction"]["Properties"]
    assert web["Environment"]["Variables"]["AUTOML_CORS_ALLOWED_ORIGINS"] == {
        "Ref": "ClientOrigins"
    }
    assert all(
        "CorsConfiguration" not in b["Properties"]
        for n, b in buckets.items()
        if n != "DatasetsBucket"
    )


def test_it_grants_the_training_container_only_its_own_data():
    role = resources_of("AWS::IAM::Role")["TrainingJobRole"]
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = sorted(
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )
    assert actions == [
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "s3:GetObject",
        "s3:GetObject",
        "s3:PutObject",
    ]


def test_it_grants_no_wildcard_action_and_one_wildcard_resource():
    text = TEMPLATE.read_text()
    assert not re.search(r'Action:\s*"?\*"?\s*$', text, re.MULTILINE)
    assert not re.search(
        r"Action:.*\b[a-z0-9]+:\*", text.replace('"s3:*"', "").replace('"sqs:*"', "")
    )
    wildcard = [
        s
        for policy in resources_of("AWS::IAM::ManagedPolicy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Resource"] == "*"
    ]
    assert [s["Action"] for s in wildcard] == ["batch:DescribeJobs"]  # no resource-level support


def test_it_uses_the_runners_retry_strategy_as_the_job_definitions_default():
    definition = resources_of("AWS::Batch::JobDefinition")["TrainingJobDefinition"]["Properties"]
    strategy = definition["RetryStrategy"]
    as_api = {
        "attempts": strategy["Attempts"],
        "evaluateOnExit": [
            {k[0].lower() + k[1:]: v for k, v in rule.items()}
            for rule in strategy["EvaluateOnExit"]
        ],
    }
    assert as_api == RETRY_STRATEGY


def test_it_runs_both_functions_from_the_web_image_with_the_lambda_handler():
    for function in resources_of("AWS::Lambda::Function").values():
        properties = function["Properties"]
        assert properties["PackageType"] == "Image"
        assert properties["ImageConfig"]["Command"] == ["automl_lite.lambda_handler.handler"]
        variables = properties["Environment"]["Variables"]
        assert variables["AUTOML_BACKEND"] == "aws"
        for name in settings_required_aws_variables():
            assert name in variables, name


# --------------------------------------------------------------------------- deployed into moto


@pytest.fixture(scope="module")
def stack():
    from moto import mock_aws

    with mock_aws(config={"batch": {"use_docker": False}}):
        # With an alarm e-mail and client origins, so every conditional resource exists.
        deployed = deploy_stack(
            two_phase=True,
            AlarmEmail="ops@example.com",
            ClientOrigins="http://localhost:3000,https://automl.example.com",
        )
        yield {
            "status": "UPDATE_COMPLETE",
            "outputs": deployed.outputs,
            "created": deployed.resources,
            "stack": deployed,
        }


def test_it_deploys_into_moto(stack):
    created = {r["LogicalResourceId"] for r in stack["created"] if r.get("LogicalResourceId")}
    declared = declared_resources("lambda")  # the ECS variant's are conditioned away
    missing = {declared[name]["Type"] for name in set(declared) - created}

    assert stack["status"] == "UPDATE_COMPLETE"
    assert missing == MOTO_CANNOT_CREATE  # everything else was really created
    assert created <= set(declared)
    unsupported = [n for n, r in declared.items() if r["Type"] in MOTO_CANNOT_CREATE]
    assert len(created) == len(declared) - len(unsupported)


def test_it_creates_the_tables_as_create_tables_would(stack):
    ddb = boto3.client("dynamodb", region_name=REGION)
    for output, indexes in (
        ("DatasetsTableName", contract.DYNAMO_DATASETS_INDEXES),
        ("JobsTableName", contract.DYNAMO_JOBS_INDEXES),
        ("BatchesTableName", contract.DYNAMO_BATCHES_INDEXES),
    ):
        table = ddb.describe_table(TableName=stack["outputs"][output])["Table"]
        found = {
            i["IndexName"]: tuple(k["AttributeName"] for k in i["KeySchema"])
            for i in table["GlobalSecondaryIndexes"]
        }
        assert found == indexes
        assert table["DeletionProtectionEnabled"] is True


def test_it_sends_failed_tasks_to_the_dead_letter_queue(stack):
    sqs = boto3.client("sqs", region_name=REGION)
    attributes = sqs.get_queue_attributes(
        QueueUrl=stack["outputs"]["TaskQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":automl-lite-tasks-dlq")
    assert int(attributes["VisibilityTimeout"]) >= 900  # >= the worker function's timeout
    assert attributes["SqsManagedSseEnabled"] == "true"


def test_it_puts_fargate_spot_before_on_demand(stack):
    batch = boto3.client("batch", region_name=REGION)
    queue = batch.describe_job_queues(jobQueues=[stack["outputs"]["TrainingJobQueueArn"]])[
        "jobQueues"
    ][0]
    ordered = sorted(queue["computeEnvironmentOrder"], key=lambda e: e["order"])
    environments = {
        e["computeEnvironmentArn"]: e["computeResources"]["type"]
        for e in batch.describe_compute_environments()["computeEnvironments"]
    }
    assert [environments[e["computeEnvironment"]] for e in ordered] == ["FARGATE_SPOT", "FARGATE"]


def test_it_gives_a_submitted_job_every_variable_the_container_requires(stack):
    batch = boto3.client("batch", region_name=REGION)
    outputs = stack["outputs"]
    backend = contract.Backend(
        storage="s3",
        datasets_location=outputs["DatasetsBucketName"],
        models_location=outputs["ModelsBucketName"],
        reports_location=outputs["ReportsBucketName"],
        job_store="dynamodb",
        job_store_location=outputs["JobsTableName"],
        extra_env=(("AWS_DEFAULT_REGION", REGION),),
    )
    runner = BatchRunner(
        batch,
        job_queue=outputs["TrainingJobQueueArn"],
        job_definition=outputs["TrainingJobDefinitionName"],
        backend=backend,
    )

    batch_id = runner.submit(make_job(), dataset_key="datasets/x/data.csv")

    detail = batch.describe_jobs(jobs=[batch_id])["jobs"][0]
    environment = {e["name"]: e["value"] for e in detail["container"]["environment"]}
    assert set(contract.REQUIRED_ENV) <= set(environment)
    definition = batch.describe_job_definitions(
        jobDefinitionName=outputs["TrainingJobDefinitionName"]
    )["jobDefinitions"][0]
    assert definition["containerProperties"]["logConfiguration"]["logDriver"] == "awslogs"


def test_it_runs_the_worker_from_the_task_queue_and_every_minute(stack):
    lam = boto3.client("lambda", region_name=REGION)
    worker = stack["outputs"]["WorkerFunctionName"]
    (mapping,) = lam.list_event_source_mappings(FunctionName=worker)["EventSourceMappings"]
    assert mapping["EventSourceArn"].endswith(":automl-lite-tasks")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    events = boto3.client("events", region_name=REGION)
    (rule,) = [r for r in events.list_rules()["Rules"] if "ScheduleExpression" in r]
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"].endswith(f":function:{worker}")


def test_it_keeps_logs_for_the_configured_retention(stack):
    groups = boto3.client("logs", region_name=REGION).describe_log_groups()["logGroups"]
    assert {g["logGroupName"]: g["retentionInDays"] for g in groups} == {
        "/aws/apigateway/automl-lite-http": 30,
        "/aws/batch/automl-lite-training": 30,
        "/aws/lambda/automl-lite-web": 30,
        "/aws/lambda/automl-lite-worker": 30,
    }


def test_it_keeps_both_images_in_scanned_immutable_repositories(stack):
    repositories = resources_of("AWS::ECR::Repository")
    assert set(repositories) == {"TrainingRepository", "WebRepository"}
    for name, repository in repositories.items():
        properties = repository["Properties"]
        assert properties["ImageScanningConfiguration"] == {"ScanOnPush": True}, name
        assert properties["ImageTagMutability"] == "IMMUTABLE", name
        rules = json.loads(properties["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
        assert {r["selection"]["tagStatus"] for r in rules} == {"untagged", "any"}, name
        assert repository["DeletionPolicy"] == "Retain", name
    ecr = boto3.client("ecr", region_name=REGION)
    created = {r["repositoryUri"]: r for r in ecr.describe_repositories()["repositories"]}
    for output in ("TrainingRepositoryUri", "WebRepositoryUri"):
        # moto's CloudFormation ignores the scan setting: the template check above holds it.
        assert created[stack["outputs"][output]]["imageTagMutability"] == "IMMUTABLE"


def test_it_runs_the_images_the_stack_tag_names(stack):
    outputs = stack["outputs"]
    lam = boto3.client("lambda", region_name=REGION)
    for function in ("WebFunctionName", "WorkerFunctionName"):
        image = lam.get_function(FunctionName=outputs[function])["Code"]["ImageUri"]
        assert image == f"{outputs['WebRepositoryUri']}:{stack['stack'].parameters['ImageTag']}"
    definition = boto3.client("batch", region_name=REGION).describe_job_definitions(
        jobDefinitionName=outputs["TrainingJobDefinitionName"], status="ACTIVE"
    )["jobDefinitions"][0]
    assert definition["containerProperties"]["image"].startswith(
        outputs["TrainingRepositoryUri"] + ":"
    )


def test_it_creates_nothing_that_runs_before_the_images_are_pushed(stack):
    first = deploy_stack(image_tag="", name="first", EnvironmentName="first")

    assert "WebFunctionName" not in first.outputs
    functions = boto3.client("lambda", region_name=REGION).list_functions()["Functions"]
    assert [f for f in functions if f["FunctionName"].startswith("first-")] == []
    batch = boto3.client("batch", region_name=REGION)
    definitions = batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]
    assert [d for d in definitions if d["jobDefinitionName"].startswith("first-")] == []
    assert {"TrainingRepositoryUri", "WebRepositoryUri", "JobsTableName"} <= set(first.outputs)


# Lambda keeps at least 100 executions unreserved in an account: on a new account, whose
# concurrency quota is often 10, any reservation is refused and the stack rolls back.
LAMBDA_MIN_UNRESERVED = 100


def lambda_accepts_reservations(account_quota: int, reserved: list[int]) -> bool:
    return not any(reserved) or account_quota - sum(reserved) >= LAMBDA_MIN_UNRESERVED


def test_it_reserves_no_concurrency_unless_asked(stack):
    parameters = template()["Parameters"]
    defaults = [
        int(parameters[name]["Default"])
        for name in ("WebReservedConcurrency", "WorkerReservedConcurrency")
    ]
    assert lambda_accepts_reservations(10, defaults)
    assert not lambda_accepts_reservations(10, [5, 0])  # what the old default did (20 and 4)
    lam = boto3.client("lambda", region_name=REGION)
    for function in ("WebFunctionName", "WorkerFunctionName"):
        concurrency = lam.get_function_concurrency(FunctionName=stack["outputs"][function])
        assert "ReservedConcurrentExecutions" not in concurrency


def test_it_reserves_concurrency_when_the_parameter_asks(stack):
    asked = deploy_stack(name="asked", EnvironmentName="asked", WebReservedConcurrency="7")

    lam = boto3.client("lambda", region_name=REGION)
    web = lam.get_function_concurrency(FunctionName=asked.outputs["WebFunctionName"])
    worker = lam.get_function_concurrency(FunctionName=asked.outputs["WorkerFunctionName"])
    assert web["ReservedConcurrentExecutions"] == 7
    assert "ReservedConcurrentExecutions" not in worker


def test_it_lets_the_worker_maintain_the_tables_create_tables_checks():
    role = resources_of("AWS::IAM::Role")["WorkerRole"]
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (maintain,) = [s for s in statements if s.get("Sid") == "MaintainTables"]
    assert {
        "dynamodb:DescribeContinuousBackups",
        "dynamodb:UpdateContinuousBackups",
        "dynamodb:DescribeTable",
        "dynamodb:UpdateTable",
    } <= set(maintain["Action"])


def test_it_builds_images_for_fargate_and_lambda_without_a_provenance_manifest():
    # Lambda and Fargate run linux/amd64 here, and Lambda refuses the image index that
    # BuildKit's provenance attestation adds.
    readme = (REPO / "deploy" / "README.md").read_text()
    builds = [line for line in readme.splitlines() if "docker build" in line]
    assert len(builds) >= 2
    for line in builds:
        assert "--platform linux/amd64" in line and "--provenance=false" in line, line


def test_it_ships_compiled_bytecode_in_the_web_image():
    dockerfile = (REPO / "deploy" / "web.Dockerfile").read_text()
    compile_step = re.search(r"python -m compileall[^\n]*", dockerfile)
    assert compile_step is not None
    assert "/app" in compile_step.group(0) and "/opt/venv/lib" in compile_step.group(0)
    assert "unchecked-hash" in compile_step.group(0)
