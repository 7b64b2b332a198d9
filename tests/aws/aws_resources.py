"""Build the AWS resources a deployment has (Batch queue, tables, buckets, queue) in moto."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from tests.aws.conftest import REGION
from training_image import contract


def client(service: str, endpoint_url: str | None = None) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint_url)


@dataclass(frozen=True)
class BatchSetup:
    job_queue: str
    job_definition: str


# The deployment's facts the job definition carries (deploy/automl-lite.yaml does the same).
def definition_environment(backend: contract.Backend) -> list[dict[str, str]]:
    return [
        {"name": contract.ENV_STORAGE, "value": backend.storage},
        {"name": contract.ENV_DATASETS_LOCATION, "value": backend.datasets_location},
        {"name": contract.ENV_MODELS_LOCATION, "value": backend.models_location},
        {"name": contract.ENV_REPORTS_LOCATION, "value": backend.reports_location},
        {"name": contract.ENV_JOB_STORE, "value": backend.job_store},
        {"name": contract.ENV_JOB_STORE_LOCATION, "value": backend.job_store_location},
        {"name": contract.ENV_AWS_REGION, "value": REGION},
    ]


def create_batch(
    backend: contract.Backend, *, endpoint_url: str | None = None, name: str = "automl-test"
) -> BatchSetup:
    """A Fargate Spot compute environment, a job queue and the training job definition."""
    ec2 = client("ec2", endpoint_url)
    iam = client("iam", endpoint_url)
    batch = client("batch", endpoint_url)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"{name}-sg", Description="training", VpcId=vpc)
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"batch.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    role = iam.create_role(RoleName=f"{name}-batch", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    environment = batch.create_compute_environment(
        computeEnvironmentName=f"{name}-fargate-spot",
        type="MANAGED",
        state="ENABLED",
        serviceRole=role,
        computeResources={
            "type": "FARGATE_SPOT",
            "maxvCpus": 8,
            "subnets": [subnet],
            "securityGroupIds": [group["GroupId"]],
        },
    )
    queue = batch.create_job_queue(
        jobQueueName=f"{name}-training",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}
        ],
    )
    definition = batch.register_job_definition(
        jobDefinitionName=f"{name}-training",
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/automl-training:test",
            "resourceRequirements": [
                {"type": "VCPU", "value": "2"},
                {"type": "MEMORY", "value": "8192"},
            ],
            "environment": definition_environment(backend),
            "networkConfiguration": {"assignPublicIp": "ENABLED"},
        },
    )
    return BatchSetup(
        job_queue=queue["jobQueueName"], job_definition=definition["jobDefinitionName"]
    )


def s3_backend(prefix: str = "automl-test") -> contract.Backend:
    """The container backend of a test deployment (buckets and jobs table by name)."""
    return contract.Backend(
        storage="s3",
        datasets_location=f"{prefix}-datasets",
        models_location=f"{prefix}-models",
        reports_location=f"{prefix}-reports",
        job_store="dynamodb",
        job_store_location=f"{prefix}-jobs",
        seed=42,
        extra_env=((contract.ENV_AWS_REGION, REGION),),
    )
