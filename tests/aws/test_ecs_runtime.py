"""WebRuntime=ecs: the same stack with the web app, its Celery worker and the reconciliation on
ECS Fargate instead of Lambda, created in moto and held to the Lambda variant's settings.

The ECS variant's task definitions, services, load balancer and the worker's scaling are
read back through their APIs (moto_cfn teaches moto the properties its own models drop);
what moto cannot show (capacity-provider placement, the load balancer routing to tasks,
alarms changing state) is checked on the template.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from cfnlint.decode import decode
from moto.core import set_initial_no_auth_action_count

from tests.aws import moto_cfn
from tests.aws.django_env import load_settings
from tests.aws.iam import aws_resolution, principal, refused
from tests.aws.stack import (
    ECS_DOMAIN,
    RUNTIME_CONDITIONS,
    TEMPLATE,
    declared_resources,
    deploy_stack,
)
from tests.aws.test_deploy_template import _checkov, settings_required_aws_variables
from tests.core.test_ecs_metadata import CONTAINER_METADATA, serve

# Settings that differ between the variants by design: the host each is served on (and
# its CSRF origin), and the secret key each stack generates for itself.
DIFFERENT_BY_DESIGN = {"ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SECRET_KEY"}
# Lambda-only and ECS-only resource types (everything else is shared).
LAMBDA_TYPES = {
    "AWS::Lambda::Function",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::Permission",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Stage",
}
ECS_TYPES = {
    "AWS::ECS::Cluster",
    "AWS::ECS::TaskDefinition",
    "AWS::ECS::Service",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
}


def template() -> dict:
    decoded, problems = decode(str(TEMPLATE))
    assert not problems
    return decoded


def container(stack, family: str) -> tuple[dict, dict]:
    """A task definition as ECS registered it, and its one container."""
    definition = stack.client("ecs").describe_task_definition(taskDefinition=family)[
        "taskDefinition"
    ]
    (only,) = definition["containerDefinitions"]
    return definition, only


def container_environment(stack, family: str, **extra: str) -> dict[str, str]:
    """A container's environment as ECS starts it: its variables plus its `secrets`, each
    read from Secrets Manager by the execution role."""
    _, found = container(stack, family)
    environment = {e["name"]: e["value"] for e in found["environment"]}
    secrets = stack.client("secretsmanager")
    for secret in found["secrets"]:
        value = secrets.get_secret_value(SecretId=secret["valueFrom"])["SecretString"]
        environment[secret["name"]] = value
    return {**environment, **extra}


@pytest.fixture(scope="module")
def stacks():
    """The Lambda variant's settings (its stack deleted again), then the ECS variant."""
    from moto import mock_aws

    with mock_aws(config={"batch": {"use_docker": False}}):
        lam = deploy_stack(two_phase=True)
        lambda_settings = {
            "web": load_settings(lam.web_environment),
            "worker": load_settings(lam.worker_environment),
            "outputs": set(lam.outputs),
        }
    with mock_aws(config={"batch": {"use_docker": False}}):
        ecs = deploy_stack(two_phase=True, WebRuntime="ecs", AlarmEmail="ops@example.com")
        yield SimpleNamespace(ecs=ecs, **lambda_settings)


# --------------------------------------------------------------------------- the template


def test_each_runtimes_resources_exist_only_for_that_runtime():
    resources = template()["Resources"]

    for name, resource in resources.items():
        condition = resource.get("Condition")
        if resource["Type"] in LAMBDA_TYPES:
            assert condition in RUNTIME_CONDITIONS["lambda"], name
        if resource["Type"] in ECS_TYPES:
            assert condition in RUNTIME_CONDITIONS["ecs"], name
    lambda_only = {
        n for n, r in resources.items() if r.get("Condition") in RUNTIME_CONDITIONS["lambda"]
    }
    assert {"WebFunction", "WorkerFunction", "WebRole", "WorkerRole", "HttpApi"} <= lambda_only


def test_ecs_requires_https_on_a_domain_of_its_own():
    rule = template()["Rules"]["EcsNeedsHttps"]

    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "WebRuntime"}, "ecs"]}
    asserted = json.dumps(rule["Assertions"])
    assert '"CustomDomain"' in asserted and '"CertificateArn"' in asserted
    (https,) = [
        r["Properties"]
        for r in template()["Resources"].values()
        if r["Type"] == "AWS::ElasticLoadBalancingV2::Listener"
        and r["Properties"]["Protocol"] == "HTTPS"
    ]
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")


def test_every_container_gets_the_settings_the_app_requires_in_aws_mode():
    for name in ("WebTaskDefinition", "WorkerTaskDefinition", "SchedulerTaskDefinition"):
        (found,) = template()["Resources"][name]["Properties"]["ContainerDefinitions"]
        variables = {e["Name"] for e in found["Environment"]}
        secrets = {s["Name"]: s["ValueFrom"] for s in found["Secrets"]}
        assert set(settings_required_aws_variables()) <= variables, name
        assert secrets == {
            "DJANGO_SECRET_KEY": {"Ref": "DjangoSecretKeySecret"},
            "DATABASE_URL": {"Ref": "DatabaseUrlSecret"},
        }, name
        assert found["ReadonlyRootFilesystem"] is True


def test_the_worker_runs_celery_on_the_task_queue_and_the_scheduler_reconciles():
    resources = template()["Resources"]
    (worker,) = resources["WorkerTaskDefinition"]["Properties"]["ContainerDefinitions"]
    (scheduler,) = resources["SchedulerTaskDefinition"]["Properties"]["ContainerDefinitions"]

    assert worker["Command"][:4] == ["celery", "-A", "automl_lite", "worker"]
    assert "python manage.py reconcile_jobs; sleep 60" in scheduler["Command"][-1]
    strategy = {
        name: resources[name]["Properties"]["CapacityProviderStrategy"]
        for name in ("WebService", "WorkerService", "SchedulerService")
    }
    assert strategy["WorkerService"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
    assert strategy["WebService"] == [{"CapacityProvider": "FARGATE", "Weight": 1}]
    assert "DesiredCount" not in resources["WorkerService"]["Properties"]  # autoscaled
    assert resources["SchedulerService"]["Properties"]["DeploymentConfiguration"] == {
        "MinimumHealthyPercent": 0,
        "MaximumPercent": 100,  # never two reconcilers at once
    }


ECS_DEFAULTS = (
    ("WebRuntime", "lambda", "ecs"),
    ("ImageTag", '""', "v1"),
    ("CustomDomain", '""', ECS_DOMAIN),
    ("CertificateArn", '""', '"arn:aws:acm:us-east-1:123456789012:certificate/abc"'),
)
AURORA_DEFAULTS = (("DatabaseEngine", "external", "aurora"),)


def variant(tmp_path: Path, defaults: tuple[tuple[str, str, str], ...]) -> Path:
    """A copy of the template whose parameter defaults choose a variant (checkov evaluates
    conditions with the defaults, so the variant's resources are what it checks)."""
    text = TEMPLATE.read_text()
    for name, old, new in defaults:
        block = f"  {name}:\n    Type: String\n    Default: {old}\n"
        assert block in text, name
        text = text.replace(block, f"  {name}:\n    Type: String\n    Default: {new}\n")
    path = tmp_path / "automl-lite-variant.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("defaults", "expected"),
    [
        (
            ECS_DEFAULTS,
            {
                "AWS::ElasticLoadBalancingV2::LoadBalancer.WebLoadBalancer",
                "AWS::ECS::TaskDefinition.WebTaskDefinition",
            },
        ),
        (
            ECS_DEFAULTS + AURORA_DEFAULTS,
            {"AWS::RDS::DBCluster.DatabaseCluster", "AWS::RDS::DBInstance.DatabaseInstance"},
        ),
    ],
    ids=["ecs", "ecs-aurora"],
)
def test_the_ecs_variants_pass_checkov_with_every_skip_explained(tmp_path, defaults, expected):
    result = subprocess.run(
        [
            _checkov(),
            "--file",
            str(variant(tmp_path, defaults)),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )

    report = json.loads(result.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert expected <= {c["resource"] for c in report["results"]["passed_checks"]}
    for check in report["results"]["skipped_checks"]:
        assert len(check["check_result"].get("suppress_comment", "")) > 20, check["check_id"]


# --------------------------------------------------------------------------- created in moto


def test_the_ecs_stack_creates_every_ecs_resource_and_no_lambda_one(stacks):
    created = {r["LogicalResourceId"] for r in stacks.ecs.resources if r.get("LogicalResourceId")}
    declared = declared_resources("ecs")
    missing = {declared[name]["Type"] for name in set(declared) - created}

    assert missing == moto_cfn.STILL_UNSUPPORTED - LAMBDA_TYPES
    assert created <= set(declared)
    assert stacks.ecs.client("lambda").list_functions()["Functions"] == []


def test_the_ecs_stack_has_the_lambda_stacks_outputs(stacks):
    lambda_only = {"WebFunctionName", "WorkerFunctionName"}

    assert stacks.outputs - lambda_only <= set(stacks.ecs.outputs)
    assert stacks.ecs.outputs["ApiUrl"] == f"https://{ECS_DOMAIN}/"
    assert {"LoadBalancerDnsName", "WebServiceName", "WorkerServiceName"} <= set(stacks.ecs.outputs)


def test_the_web_tasks_run_with_the_web_functions_settings(stacks):
    for url in serve(json.dumps(CONTAINER_METADATA).encode()):
        environment = container_environment(
            stacks.ecs, "automl-lite-web", ECS_CONTAINER_METADATA_URI_V4=url
        )
        web = load_settings(environment)

    different = {k for k in set(web) | set(stacks.web) if web.get(k) != stacks.web.get(k)}
    assert different == DIFFERENT_BY_DESIGN
    assert web["ALLOWED_HOSTS"] == [ECS_DOMAIN, "10.0.2.106"]  # the health check's host
    assert web["CSRF_TRUSTED_ORIGINS"] == [f"https://{ECS_DOMAIN}"]
    assert web["SECRET_KEY"] and web["DATABASES"] == stacks.web["DATABASES"]


@pytest.mark.parametrize("family", ["automl-lite-worker", "automl-lite-scheduler"])
def test_the_worker_and_scheduler_tasks_run_with_the_worker_functions_settings(stacks, family):
    worker = load_settings(container_environment(stacks.ecs, family))

    different = {
        k for k in set(worker) | set(stacks.worker) if worker.get(k) != stacks.worker.get(k)
    }
    assert different == DIFFERENT_BY_DESIGN - {"CSRF_TRUSTED_ORIGINS"}
    assert worker["AUTOML_TASK_MAX_RECEIVES"] == stacks.worker["AUTOML_TASK_MAX_RECEIVES"]
    assert (
        worker["CELERY_BROKER_TRANSPORT_OPTIONS"]["predefined_queues"]["celery"]["url"]
        == (stacks.ecs.outputs["TaskQueueUrl"])
    )


def test_each_task_runs_the_stacks_image_with_its_own_role_and_the_secrets_by_reference(stacks):
    ecs = stacks.ecs
    roles = {
        "automl-lite-web": ecs.physical_id("WebTaskRole"),
        "automl-lite-worker": ecs.physical_id("WorkerTaskRole"),
        "automl-lite-scheduler": ecs.physical_id("WorkerTaskRole"),
    }
    for family, role in roles.items():
        definition, found = container(ecs, family)
        assert definition["taskRoleArn"].rsplit("/", 1)[-1] == role.rsplit("/", 1)[-1]
        assert definition["executionRoleArn"].endswith(ecs.role_name("EcsExecutionRole"))
        assert definition["networkMode"] == "awsvpc"
        assert definition["requiresCompatibilities"] == ["FARGATE"]
        assert found["image"] == f"{ecs.outputs['WebRepositoryUri']}:{ecs.parameters['ImageTag']}"
        assert {s["valueFrom"] for s in found["secrets"]} == {
            ecs.outputs["DjangoSecretKeySecretArn"],
            ecs.outputs["DatabaseUrlSecretArn"],
        }
        assert found["logConfiguration"]["logDriver"] == "awslogs"
    web, _ = container(ecs, "automl-lite-web")
    assert (web["cpu"], web["memory"]) == ("512", "1024")


def test_each_ecs_role_does_its_part_and_no_more_with_iam_enforced(stacks):
    ecs, out = stacks.ecs, stacks.ecs.outputs
    other_secret = ecs.client("secretsmanager").create_secret(Name="other", SecretString="x")["ARN"]
    execution, web, worker = (
        principal(ecs, role) for role in ("EcsExecutionRole", "WebTaskRole", "WorkerTaskRole")
    )

    def block() -> None:
        # ECS's agent hands the containers the two secrets with the execution role.
        injects = ecs.client("secretsmanager", **execution)
        for arn in (out["DjangoSecretKeySecretArn"], out["DatabaseUrlSecretArn"]):
            assert injects.get_secret_value(SecretId=arn)["SecretString"]
        assert refused(injects.get_secret_value, SecretId=other_secret)
        assert refused(ecs.client("sqs", **execution).receive_message, QueueUrl=out["TaskQueueUrl"])
        # The web tasks enqueue background tasks; only the worker consumes them.
        web_sqs = ecs.client("sqs", **web)
        web_sqs.send_message(QueueUrl=out["TaskQueueUrl"], MessageBody="{}")
        assert refused(web_sqs.receive_message, QueueUrl=out["TaskQueueUrl"])
        received = ecs.client("sqs", **worker).receive_message(QueueUrl=out["TaskQueueUrl"])
        assert [m["Body"] for m in received["Messages"]] == ["{}"]
        ddb = ecs.client("dynamodb", **web)
        ddb.get_item(TableName=out["JobsTableName"], Key={"job_id": {"S": "nothing"}})
        assert refused(
            ddb.update_continuous_backups,
            TableName=out["JobsTableName"],
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
        )
        ecs.client("dynamodb", **worker).describe_continuous_backups(TableName=out["JobsTableName"])

    with aws_resolution():
        set_initial_no_auth_action_count(0)(block)()


def test_the_web_service_sits_behind_the_load_balancer_with_a_health_check(stacks):
    ecs, elb = stacks.ecs, stacks.ecs.client("elbv2")
    (service,) = ecs.client("ecs").describe_services(
        cluster=ecs.outputs["EcsClusterName"], services=[ecs.outputs["WebServiceName"]]
    )["services"]
    (balanced,) = service["loadBalancers"]
    (group,) = elb.describe_target_groups(TargetGroupArns=[balanced["targetGroupArn"]])[
        "TargetGroups"
    ]
    listeners = elb.describe_listeners(LoadBalancerArn=group["LoadBalancerArns"][0])["Listeners"]

    assert (balanced["containerName"], balanced["containerPort"]) == ("web", 8000)
    assert (group["HealthCheckPath"], group["TargetType"], group["Port"]) == (
        "/api/health",
        "ip",
        8000,
    )
    assert service["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1}]
    by_port = {listener["Port"]: listener for listener in listeners}
    assert by_port[443]["Protocol"] == "HTTPS"
    assert by_port[443]["Certificates"][0]["CertificateArn"] == ecs.parameters["CertificateArn"]
    assert by_port[80]["DefaultActions"][0]["Type"] == "redirect"


def test_the_worker_scales_on_the_task_queue_between_zero_and_the_worker_concurrency(stacks):
    ecs = stacks.ecs
    scaling = ecs.client("application-autoscaling")
    resource = f"service/{ecs.outputs['EcsClusterName']}/{ecs.outputs['WorkerServiceName']}"
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    policies = {
        p["PolicyName"]: p
        for p in scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    }
    alarms = {a["AlarmName"]: a for a in ecs.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    queue = ecs.outputs["TaskQueueUrl"].rsplit("/", 1)[-1]

    assert (target["ResourceId"], target["MinCapacity"], target["MaxCapacity"]) == (resource, 0, 4)
    out, scale_in = (
        policies["automl-lite-worker-scale-out"],
        policies["automl-lite-worker-scale-in"],
    )
    assert out["ResourceId"] == scale_in["ResourceId"] == resource
    assert scale_in["StepScalingPolicyConfiguration"]["AdjustmentType"] == "ExactCapacity"
    waiting, idle = alarms["automl-lite-worker-scale-out"], alarms["automl-lite-worker-scale-in"]
    assert waiting["AlarmActions"] == [out["PolicyARN"]]
    assert waiting["Dimensions"] == [{"Name": "QueueName", "Value": queue}]
    assert idle["AlarmActions"] == [scale_in["PolicyARN"]]
    watched = {m["Id"]: m for m in idle["Metrics"]}
    assert watched["busy"]["Expression"] == "waiting + running"
    assert watched["running"]["MetricStat"]["Metric"]["MetricName"] == (
        "ApproximateNumberOfMessagesNotVisible"
    )


def test_the_ecs_variants_alarms_reach_the_alarm_topic(stacks):
    ecs = stacks.ecs
    alarms = {a["AlarmName"]: a for a in ecs.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    full_name = ecs.outputs["LoadBalancerDnsName"]  # only to show the balancer exists
    person = {
        "automl-lite-web-errors",
        "automl-lite-web-rejected",
        "automl-lite-worker-errors",
        "automl-lite-worker-backlog",
        "automl-lite-tasks-dead-lettered",
        "automl-lite-failed-jobs-per-hour",
    }

    assert full_name
    assert person <= set(alarms)
    for name in person:
        assert alarms[name]["AlarmActions"] == [ecs.outputs["AlarmTopicArn"]], name
    (balancer,) = alarms["automl-lite-web-errors"]["Dimensions"]
    assert balancer["Name"] == "LoadBalancer" and balancer["Value"].startswith(
        "app/automl-lite-web/"
    )
    filters = ecs.client("logs").describe_metric_filters(logGroupName="/ecs/automl-lite-worker")
    (errors,) = filters["metricFilters"]
    assert (
        errors["metricTransformations"][0]["metricName"]
        == (alarms["automl-lite-worker-errors"]["MetricName"])
    )


def test_no_file_of_the_old_hand_filled_task_definition_remains():
    assert not (Path(TEMPLATE).parent / "ecs" / "web-task-definition.json").exists()
