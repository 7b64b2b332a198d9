"""DatabaseEngine=aurora: Django's tables in an Aurora Serverless v2 PostgreSQL cluster the stack
creates (scaling down to 0 ACUs, in the VPC with the ECS tasks, credentials in Secrets
Manager), reached through the same DATABASE_URL secret as an external database.

moto does not resolve CloudFormation's `{{resolve:secretsmanager:...}}` references: the test
resolves the database-URL secret's references from the secret they name, as CloudFormation
does at deploy time, and configures Django from the result.
"""

from __future__ import annotations

import json
import re

import pytest
from cfnlint.decode import decode

from tests.aws.django_env import load_settings
from tests.aws.stack import TEMPLATE, declared_resources, deploy_stack
from tests.aws.test_ecs_runtime import container_environment

AURORA_RESOURCES = {
    "DatabaseMasterSecret",
    "DatabaseSubnetGroup",
    "DatabaseSecurityGroup",
    "DatabaseCluster",
    "DatabaseInstance",
}
DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:secretsmanager:(.+?):SecretString:(\w+)\}\}")


def template() -> dict:
    decoded, problems = decode(str(TEMPLATE))
    assert not problems
    return decoded


def resolve_references(value: str, secrets) -> str:
    """What CloudFormation makes of `{{resolve:secretsmanager:ARN:SecretString:key}}`."""

    def field(match: re.Match) -> str:
        secret = json.loads(secrets.get_secret_value(SecretId=match[1])["SecretString"])
        return secret[match[2]]

    return DYNAMIC_REFERENCE.sub(field, value)


@pytest.fixture(scope="module")
def stack():
    from moto import mock_aws

    with mock_aws(config={"batch": {"use_docker": False}}):
        yield deploy_stack(
            two_phase=True,
            WebRuntime="ecs",
            DatabaseEngine="aurora",
            DatabaseUrl="",
            AlarmEmail="ops@example.com",
        )


# --------------------------------------------------------------------------- the template


def test_aurora_exists_only_when_chosen_and_only_with_ecs():
    resources = template()["Resources"]
    rules = template()["Rules"]

    assert {
        n for n, r in resources.items() if r.get("Condition") == "UseAurora"
    } == AURORA_RESOURCES
    assert template()["Parameters"]["DatabaseEngine"]["Default"] == "external"
    assert rules["AuroraNeedsEcs"]["Assertions"] == [
        {
            "Assert": {"Fn::Equals": [{"Ref": "WebRuntime"}, "ecs"]},
            "AssertDescription": rules["AuroraNeedsEcs"]["Assertions"][0]["AssertDescription"],
        }
    ]
    assert "DatabaseUrl" in json.dumps(rules["ExternalDatabaseNeedsUrl"]["Assertions"])


def test_the_cluster_scales_to_zero_keeps_its_data_and_admits_only_the_tasks():
    resources = template()["Resources"]
    cluster = resources["DatabaseCluster"]
    properties = cluster["Properties"]
    scaling = properties["ServerlessV2ScalingConfiguration"]
    major, minor = (int(part) for part in properties["EngineVersion"].split("."))

    assert properties["Engine"] == "aurora-postgresql"
    assert scaling["MinCapacity"] == 0 and scaling["MaxCapacity"] == {"Ref": "DatabaseMaxCapacity"}
    # Scaling to 0 ACUs needs Aurora PostgreSQL 16.3+ or 17.4+.
    assert (major, minor) >= (17, 4) or (major == 16 and minor >= 3)
    assert (cluster["DeletionPolicy"], properties["DeletionProtection"]) == ("Snapshot", True)
    assert properties["StorageEncrypted"] is True
    assert resources["DatabaseInstance"]["Properties"]["DBInstanceClass"] == "db.serverless"
    assert resources["DatabaseInstance"]["Properties"]["PubliclyAccessible"] is False
    ingress = resources["DatabaseSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert {json.dumps(r["SourceSecurityGroupId"]) for r in ingress} == {
        json.dumps({"Ref": "WebSecurityGroup"}),
        json.dumps({"Ref": "WorkerSecurityGroup"}),
    }
    assert {r["FromPort"] for r in ingress} == {properties["Port"]}
    url = json.dumps(resources["DatabaseUrlSecret"]["Properties"]["SecretString"])
    assert f":{properties['Port']}/automl?sslmode=require" in url


# --------------------------------------------------------------------------- created in moto


def test_the_stack_creates_the_cluster_and_its_serverless_instance(stack):
    rds = stack.client("rds")
    created = {r["LogicalResourceId"] for r in stack.resources if r.get("LogicalResourceId")}
    (cluster,) = rds.describe_db_clusters()["DBClusters"]
    (instance,) = rds.describe_db_instances()["DBInstances"]

    assert created >= AURORA_RESOURCES
    assert created <= set(declared_resources("ecs", aurora=True))
    assert cluster["Engine"] == "aurora-postgresql"
    assert cluster["ServerlessV2ScalingConfiguration"]["MinCapacity"] == 0
    assert cluster["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == 2
    assert cluster["Endpoint"] == stack.outputs["DatabaseEndpoint"]
    assert [m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]] == [
        instance["DBInstanceIdentifier"]
    ]
    assert instance["DBInstanceClass"] == "db.serverless"


def test_django_connects_to_the_cluster_with_the_generated_credentials(stack):
    secrets = stack.client("secretsmanager")
    environment = container_environment(stack, "automl-lite-worker")
    environment["DATABASE_URL"] = resolve_references(environment["DATABASE_URL"], secrets)
    master = json.loads(
        secrets.get_secret_value(SecretId=stack.physical_id("DatabaseMasterSecret"))["SecretString"]
    )

    database = load_settings(environment)["DATABASES"]["default"]

    assert database["HOST"] == stack.outputs["DatabaseEndpoint"]
    assert (database["PORT"], database["NAME"]) == (5432, "automl")
    assert (database["USER"], database["PASSWORD"]) == (master["username"], master["password"])
    assert len(master["password"]) == 40 and master["password"].isalnum()
    assert database["OPTIONS"]["sslmode"] == "require"
