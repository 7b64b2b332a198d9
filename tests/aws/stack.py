"""The stack we ship, `deploy/automl-lite.yaml`, created in moto: its outputs and the
environment its functions run with.

Tests that need AWS resources deploy this template rather than building look-alikes by
hand, so a renamed output, variable, table or queue in the template turns them red. The
only resources a test makes itself are what the operator brings: the VPC and subnet.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from datasets.adapters.dynamodb import DynamoDatasetRepository
from jobs.adapters.dynamodb import DynamoJobRepository
from jobs.runners.batch import BatchRunner
from tests.aws import moto_cfn
from tests.aws.conftest import REGION
from tests.aws.records import Records
from training_image import contract
from training_image.contract import Backend

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "automl-lite.yaml"
IMAGE_TAG = "v1"
# The domain a WebRuntime=ecs stack serves (its load balancer's certificate is for it).
ECS_DOMAIN = "automl.example.com"
DATABASE_URL = "postgres://automl:secret@db.internal:5432/automl"
# What Lambda itself puts in every function's environment (reserved names a template cannot set).
LAMBDA_RUNTIME_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")


@dataclass(frozen=True)
class Stack:
    """One created stack: where it is, what it says about itself."""

    name: str
    region: str
    endpoint_url: str | None
    outputs: dict[str, str]
    parameters: dict[str, str]
    resources: list[dict[str, Any]] = field(default_factory=list)

    def client(self, service: str, **credentials: Any) -> Any:
        return boto3.client(
            service, region_name=self.region, endpoint_url=self.endpoint_url, **credentials
        )

    def function_environment(self, output: str) -> dict[str, str]:
        """A function's environment as Lambda starts it: the template's variables (read back
        with get_function_configuration) plus the region variables Lambda adds itself."""
        config = self.client("lambda").get_function_configuration(FunctionName=self.outputs[output])
        variables = {k: str(v) for k, v in config["Environment"]["Variables"].items()}
        for name in LAMBDA_RUNTIME_VARIABLES:
            variables[name] = self.region
        return variables

    @property
    def web_environment(self) -> dict[str, str]:
        return self.function_environment("WebFunctionName")

    @property
    def worker_environment(self) -> dict[str, str]:
        return self.function_environment("WorkerFunctionName")

    def physical_id(self, logical_id: str) -> str:
        (found,) = [r for r in self.resources if r["LogicalResourceId"] == logical_id]
        return found["PhysicalResourceId"]

    def role_name(self, logical_id: str) -> str:
        """The created IAM role's name (its physical id may be the name or the ARN)."""
        return self.physical_id(logical_id).rsplit("/", 1)[-1]


# The template's conditions that hold only for one WebRuntime.
RUNTIME_CONDITIONS = {
    "lambda": {"UseLambda", "LambdaWithImages"},
    "ecs": {"UseEcs", "EcsWithImages"},
}


def declared_resources(
    runtime: str = "lambda", *, aurora: bool = False
) -> dict[str, dict[str, Any]]:
    """The template's resources a stack of `runtime` (with images) has: those of the other
    runtime are conditioned away, and the Aurora cluster's unless `aurora`."""
    from cfnlint.decode import decode

    template, problems = decode(str(TEMPLATE))
    assert not problems
    (other,) = [r for r in RUNTIME_CONDITIONS if r != runtime]
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource.get("Condition") not in RUNTIME_CONDITIONS[other]
        and (aurora or resource.get("Condition") != "UseAurora")
    }


def _network(region: str, endpoint_url: str | None) -> tuple[str, str]:
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint_url)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    return vpc, subnet


def _ecs_https(region: str, endpoint_url: str | None, parameters: dict[str, str]) -> dict[str, str]:
    """What an operator brings for WebRuntime=ecs: the domain and its ACM certificate."""
    if parameters.get("WebRuntime") != "ecs":
        return {}
    domain = parameters.get("CustomDomain") or ECS_DOMAIN
    if parameters.get("CertificateArn"):
        return {"CustomDomain": domain}
    acm = boto3.client("acm", region_name=region, endpoint_url=endpoint_url)
    certificate = acm.request_certificate(DomainName=domain)["CertificateArn"]
    return {"CustomDomain": domain, "CertificateArn": certificate}


def _parameter_list(parameters: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]


def push_images(
    *, region: str, endpoint_url: str | None, outputs: dict[str, str], tag: str
) -> None:
    """What `docker push` does to the stack's two repositories (a manifest under `tag`)."""
    ecr = boto3.client("ecr", region_name=region, endpoint_url=endpoint_url)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": "sha256:" + "0" * 64, "size": 1, "mediaType": "x"},
            "layers": [],
        }
    )
    for output in ("TrainingRepositoryUri", "WebRepositoryUri"):
        repository = outputs[output].split("/", 1)[1]
        ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)


def deploy_stack(
    *,
    region: str = REGION,
    endpoint_url: str | None = None,
    name: str = "automl",
    image_tag: str = IMAGE_TAG,
    two_phase: bool = False,
    **parameters: str,
) -> Stack:
    """Create the template's stack in moto (in-process, or the server at `endpoint_url`).

    Args:
        region: The stack's region.
        endpoint_url: A moto server's URL, or None for in-process moto.
        name: The stack name.
        image_tag: The `ImageTag` parameter (both images).
        two_phase: Deploy as deploy/README.md says for a first deployment: create the stack
            without images, push both images to its repositories, update it with the tag.
        **parameters: Further template parameters (e.g. WebReservedConcurrency="5");
            with WebRuntime="ecs" a certificate for CustomDomain (default ECS_DOMAIN)
            is requested in ACM unless CertificateArn names one.

    Returns:
        The created stack.
    """
    moto_cfn.install()
    vpc, subnet = _network(region, endpoint_url)
    values = {
        "VpcId": vpc,
        "SubnetIds": subnet,
        "DatabaseUrl": DATABASE_URL,
        **parameters,
        **_ecs_https(region, endpoint_url, parameters),
    }
    cfn = boto3.client("cloudformation", region_name=region, endpoint_url=endpoint_url)
    body = TEMPLATE.read_text()
    with warnings.catch_warnings():
        # moto warns about each type it cannot create (moto_cfn.STILL_UNSUPPORTED).
        warnings.filterwarnings("ignore", message=".*not supported by moto")
        if two_phase:
            cfn.create_stack(
                StackName=name,
                TemplateBody=body,
                Parameters=_parameter_list(values),
                Capabilities=["CAPABILITY_IAM"],
            )
            first = cfn.describe_stacks(StackName=name)["Stacks"][0]
            outputs = {o["OutputKey"]: o["OutputValue"] for o in first["Outputs"]}
            push_images(region=region, endpoint_url=endpoint_url, outputs=outputs, tag=image_tag)
            cfn.update_stack(
                StackName=name,
                TemplateBody=body,
                Parameters=_parameter_list({**values, "ImageTag": image_tag}),
                Capabilities=["CAPABILITY_IAM"],
            )
        else:
            cfn.create_stack(
                StackName=name,
                TemplateBody=body,
                Parameters=_parameter_list({**values, "ImageTag": image_tag}),
                Capabilities=["CAPABILITY_IAM"],
            )
    description = cfn.describe_stacks(StackName=name)["Stacks"][0]
    status = description["StackStatus"]
    if status not in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}:
        raise AssertionError(f"stack {name} ended {status}: {description.get('StackStatusReason')}")
    resources = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    _attach_managed_policies(resources, region=region, endpoint_url=endpoint_url)
    return Stack(
        name=name,
        region=region,
        endpoint_url=endpoint_url,
        outputs={o["OutputKey"]: o["OutputValue"] for o in description["Outputs"]},
        parameters={**values, "ImageTag": image_tag},
        resources=resources,
    )


def _attach_managed_policies(
    resources: list[dict[str, Any]], *, region: str, endpoint_url: str | None
) -> None:
    """Attach each role's `ManagedPolicyArns`, as CloudFormation does and moto does not.

    Our own managed policies (a `Ref` in the template) are attached by their created ARN;
    AWS-managed ones that moto does not know (X-Ray, ECS task execution) are skipped: none
    of them grants anything on the stack's data.
    """
    from cfnlint.decode import decode

    template, problems = decode(str(TEMPLATE))
    assert not problems
    created = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    iam = boto3.client("iam", region_name=region, endpoint_url=endpoint_url)
    arns = {p["PolicyName"]: p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role" or logical_id not in created:
            continue
        role = created[logical_id].rsplit("/", 1)[-1]
        for entry in resource["Properties"].get("ManagedPolicyArns", []):
            if not (isinstance(entry, dict) and "Ref" in entry):
                continue
            physical = created[entry["Ref"]]
            arn = physical if physical.startswith("arn:") else arns[physical.rsplit("/", 1)[-1]]
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)


def definition_backend(stack: Stack) -> Backend:
    """The deployment's facts as the stack's job definition hands them to the container."""
    batch = stack.client("batch")
    (definition,) = batch.describe_job_definitions(
        jobDefinitionName=stack.outputs["TrainingJobDefinitionName"], status="ACTIVE"
    )["jobDefinitions"]
    env = {e["name"]: e["value"] for e in definition["containerProperties"]["environment"]}
    extra = [(contract.ENV_AWS_REGION, env[contract.ENV_AWS_REGION])]
    if stack.endpoint_url:
        extra.append(("AWS_ENDPOINT_URL", stack.endpoint_url))
    return Backend(
        storage=env[contract.ENV_STORAGE],
        datasets_location=env[contract.ENV_DATASETS_LOCATION],
        models_location=env[contract.ENV_MODELS_LOCATION],
        reports_location=env[contract.ENV_REPORTS_LOCATION],
        job_store=env[contract.ENV_JOB_STORE],
        job_store_location=env[contract.ENV_JOB_STORE_LOCATION],
        extra_env=tuple(extra),
    )


def stack_records(stack: Stack, **retry: Any) -> Records:
    """Repositories on the stack's own datasets and jobs tables."""
    resource = boto3.resource("dynamodb", region_name=stack.region, endpoint_url=stack.endpoint_url)
    jobs_table = resource.Table(stack.outputs["JobsTableName"])
    return Records(
        jobs=DynamoJobRepository(jobs_table, **retry),
        datasets=DynamoDatasetRepository(
            resource.Table(stack.outputs["DatasetsTableName"]), **retry
        ),
        jobs_table=jobs_table,
    )


def stack_runner(stack: Stack, client: Any = None, **options: Any) -> BatchRunner:
    """A BatchRunner on the stack's job queue and job definition, as the web wires it."""
    return BatchRunner(
        client or stack.client("batch"),
        job_queue=stack.outputs["TrainingJobQueueArn"],
        job_definition=stack.outputs["TrainingJobDefinitionName"],
        backend=definition_backend(stack),
        **options,
    )
