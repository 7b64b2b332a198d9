"""Resource types of our template that moto's CloudFormation cannot create, taught to it.

moto creates most of `deploy/automl-lite.yaml`, but skips (with a warning) the Secrets
Manager secrets and the HTTP API, and then drops every environment variable that refers to
them: the functions would lose `DJANGO_SECRET_KEY_SECRET_ARN` and the API's host. These
models create them through moto's own Secrets Manager and API Gateway v2 backends, from
the template's own properties, so the stack under test is still the one we ship. The
alarms (CloudWatch alarms, the alarm topic's policy and e-mail subscription) are created
the same way through moto's CloudWatch and SNS backends, so a test reads back what
CloudFormation would have made.

For `WebRuntime=ecs` moto's own ECS models drop most of what the template says (a task
definition's roles, CPU, network mode and secrets; a service's name, load balancer,
network and capacity providers; a cluster's capacity providers): the replacements below
register them with every property through moto's ECS backend. The worker's Application
Auto Scaling target and policies, the log metric filter and the load balancer's
`LoadBalancerFullName` are taught the same way, and the Aurora cluster
(`DatabaseEngine=aurora`) with its instance. moto does not resolve `{{resolve:...}}`
dynamic references: a test resolves them itself from the secret they name.

What they do not model: secret rotation, resource policies, KMS keys, or the HTTP API's
routes, integration and stage (moto's CloudFormation has no types for those either; the
template tests check them on the template).
"""

from __future__ import annotations

import functools
import json
from typing import Any, ClassVar

from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.core.utils import pascal_to_camelcase, remap_nested_keys
from moto.ecs.models import Cluster, Service, TaskDefinition, ecs_backends
from moto.rds.models import DBInstance


class _Created:
    """What a resource map holds for one created resource: its Ref value and attributes."""

    def __init__(self, physical_resource_id: str, **attributes: str) -> None:
        self.physical_resource_id = physical_resource_id
        self._attributes = attributes

    def get_cfn_attribute(self, name: str) -> str:
        return self._attributes[name]

    def is_created(self) -> bool:
        return True


class _Taught:
    """The CloudFormation plumbing every taught type shares: its type, name property and
    attributes as class data; `create` makes it from the resource's properties."""

    TYPE: ClassVar[str]
    NAME_PROPERTY: ClassVar[str] = ""
    ATTRIBUTES: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Created:
        return cls.create(cloudformation_json["Properties"], resource_name, account_id, region_name)

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> _Created:
        raise NotImplementedError


class SecretsManagerSecret(_Taught, CloudFormationModel):
    TYPE = "AWS::SecretsManager::Secret"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = frozenset({"Id"})

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> _Created:
        from moto.secretsmanager.models import secretsmanager_backends

        backend = secretsmanager_backends[account_id][region_name]
        value = properties.get("SecretString")
        generate = properties.get("GenerateSecretString")
        if value is None and generate is not None:
            value = backend.get_random_password(
                password_length=int(generate.get("PasswordLength", 32)),
                exclude_characters=generate.get("ExcludeCharacters", ""),
                exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
                exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
                exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
                exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
                include_space=bool(generate.get("IncludeSpace", False)),
                require_each_included_type=bool(generate.get("RequireEachIncludedType", True)),
            )
            value = (json.loads(value) if isinstance(value, str) else value)["RandomPassword"]
            if "SecretStringTemplate" in generate:
                # A JSON secret: the template's fields plus the generated key.
                template = json.loads(generate["SecretStringTemplate"])
                value = json.dumps({**template, generate["GenerateStringKey"]: value})
        created = backend.create_secret(
            name=properties.get("Name", resource_name),
            secret_string=value,
            secret_binary=None,
            description=properties.get("Description"),
            tags=properties.get("Tags"),
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        arn = json.loads(created)["ARN"] if isinstance(created, str) else created["ARN"]
        return _Created(arn, Id=arn)


class ApiGatewayV2Api(_Taught, CloudFormationModel):
    TYPE = "AWS::ApiGatewayV2::Api"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = frozenset({"ApiId", "ApiEndpoint"})

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> _Created:
        from moto.apigatewayv2.models import apigatewayv2_backends

        api = apigatewayv2_backends[account_id][region_name].create_api(
            api_key_selection_expression=None,
            cors_configuration=None,
            description=properties.get("Description"),
            disable_schema_validation=None,
            disable_execute_api_endpoint=None,
            name=properties.get("Name", resource_name),
            protocol_type=properties.get("ProtocolType", "HTTP"),
            route_selection_expression=None,
            tags={},
            version=None,
        )
        endpoint = f"https://{api.api_id}.execute-api.{region_name}.amazonaws.com"
        return _Created(api.api_id, ApiId=api.api_id, ApiEndpoint=endpoint)


class _Recreated:
    """A model whose update is a fresh create (the backends below overwrite by name)."""

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> _Created:
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )


class CloudWatchAlarm(_Recreated, _Taught, CloudFormationModel):
    TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"
    ATTRIBUTES = frozenset({"Arn"})

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> _Created:
        from moto.cloudwatch.models import cloudwatch_backends

        name = properties.get("AlarmName", resource_name)
        period = properties.get("Period")
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=properties.get("Namespace"),  # type: ignore[arg-type]
            metric_name=properties.get("MetricName"),  # type: ignore[arg-type]
            metric_data_queries=_metric_queries(properties.get("Metrics")),
            comparison_operator=properties["ComparisonOperator"],
            evaluation_periods=int(properties["EvaluationPeriods"]),
            period=int(period) if period is not None else None,  # type: ignore[arg-type]
            threshold=float(properties["Threshold"]),
            statistic=properties.get("Statistic"),  # type: ignore[arg-type]
            description=properties.get("AlarmDescription", ""),
            dimensions=[
                {"Name": d["Name"], "Value": str(d["Value"])}
                for d in properties.get("Dimensions", [])
            ],
            alarm_actions=list(properties.get("AlarmActions", [])),
            ok_actions=list(properties.get("OKActions", [])),
            treat_missing_data=properties.get("TreatMissingData"),
            actions_enabled=bool(properties.get("ActionsEnabled", True)),
        )
        return _Created(name, Arn=alarm.alarm_arn)


def _metric_queries(metrics: list[dict[str, Any]] | None) -> list[Any] | None:
    """An alarm's `Metrics` (metric math) as moto's CloudWatch backend takes them."""
    from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat

    if not metrics:
        return None
    queries = []
    for metric in metrics:
        stat = metric.get("MetricStat")
        metric_stat = None
        if stat:
            watched = stat["Metric"]
            metric_stat = MetricStat(
                metric=Metric(
                    metric_name=watched["MetricName"],
                    namespace=watched["Namespace"],
                    dimensions=[
                        Dimension(d["Name"], str(d["Value"])) for d in watched.get("Dimensions", [])
                    ],
                ),
                period=stat["Period"],
                stat=stat["Stat"],
                unit=stat.get("Unit"),  # type: ignore[arg-type]
            )
        queries.append(
            MetricDataQuery(
                query_id=metric["Id"],
                label=metric.get("Label"),  # type: ignore[arg-type]
                period=metric.get("Period"),  # type: ignore[arg-type]
                return_data=metric.get("ReturnData"),  # type: ignore[arg-type]
                expression=metric.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries


class SnsTopicPolicy(_Recreated, _Taught, CloudFormationModel):
    TYPE = "AWS::SNS::TopicPolicy"
    ATTRIBUTES = frozenset()

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> _Created:
        from moto.sns.models import sns_backends

        backend = sns_backends[account_id][region_name]
        for topic_arn in properties["Topics"]:
            backend.set_topic_attribute(
                topic_arn, "policy", json.dumps(properties["PolicyDocument"])
            )
        return _Created(resource_name)


class SnsSubscription(_Recreated, _Taught, CloudFormationModel):
    TYPE = "AWS::SNS::Subscription"
    ATTRIBUTES = frozenset({"Arn"})

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> _Created:
        from moto.sns.models import sns_backends

        subscription = sns_backends[account_id][region_name].subscribe(
            properties["TopicArn"], properties["Endpoint"], properties["Protocol"]
        )
        return _Created(subscription.arn, Arn=subscription.arn)


class LogsMetricFilter(_Recreated, _Taught, CloudFormationModel):
    TYPE = "AWS::Logs::MetricFilter"
    NAME_PROPERTY = "FilterName"
    ATTRIBUTES = frozenset()

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> _Created:
        from moto.logs.models import logs_backends

        name = properties.get("FilterName", resource_name)
        transformations = [
            {
                "metricName": t["MetricName"],
                "metricNamespace": t["MetricNamespace"],
                "metricValue": str(t["MetricValue"]),
                **({"defaultValue": float(t["DefaultValue"])} if "DefaultValue" in t else {}),
            }
            for t in properties["MetricTransformations"]
        ]
        logs_backends[account_id][region_name].put_metric_filter(
            name,
            properties["FilterPattern"],
            properties["LogGroupName"],
            transformations,  # type: ignore[arg-type]
        )
        return _Created(name)


class ScalableTarget(_Recreated, _Taught, CloudFormationModel):
    TYPE = "AWS::ApplicationAutoScaling::ScalableTarget"
    ATTRIBUTES = frozenset()

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> _Created:
        from moto.applicationautoscaling.models import applicationautoscaling_backends

        applicationautoscaling_backends[account_id][region_name].register_scalable_target(
            namespace=properties["ServiceNamespace"],
            r_id=properties["ResourceId"],
            dimension=properties["ScalableDimension"],
            min_capacity=int(properties["MinCapacity"]),
            max_capacity=int(properties["MaxCapacity"]),
            role_arn=properties.get("RoleARN"),  # type: ignore[arg-type]
            suspended_state=properties.get("SuspendedState"),  # type: ignore[arg-type]
        )
        # CloudFormation's Ref of a scalable target: resource id|dimension|namespace.
        return _Created(
            "|".join(
                (
                    properties["ResourceId"],
                    properties["ScalableDimension"],
                    properties["ServiceNamespace"],
                )
            )
        )


class ScalingPolicy(_Recreated, _Taught, CloudFormationModel):
    TYPE = "AWS::ApplicationAutoScaling::ScalingPolicy"
    NAME_PROPERTY = "PolicyName"
    ATTRIBUTES = frozenset({"Arn"})

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> _Created:
        from moto.applicationautoscaling.models import applicationautoscaling_backends

        resource_id, dimension, namespace = properties["ScalingTargetId"].split("|")
        # moto keeps the policy's configuration itself as the body (as PutScalingPolicy's).
        body = properties.get("StepScalingPolicyConfiguration") or properties.get(
            "TargetTrackingScalingPolicyConfiguration"
        )
        policy = applicationautoscaling_backends[account_id][region_name].put_scaling_policy(
            policy_name=properties.get("PolicyName", resource_name),
            service_namespace=namespace,
            resource_id=resource_id,
            scalable_dimension=dimension,
            policy_body=body,
            policy_type=properties["PolicyType"],
        )
        return _Created(policy.policy_arn, Arn=policy.policy_arn)


def _camel(value: Any) -> Any:
    return remap_nested_keys(value, pascal_to_camelcase) if value is not None else None


class EcsCluster(Cluster):
    """An ECS cluster with its capacity providers and settings."""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Cluster:
        properties = cloudformation_json.get("Properties", {})
        return ecs_backends[account_id][region_name].create_cluster(
            cluster_name=properties.get("ClusterName", resource_name),
            cluster_settings=_camel(properties.get("ClusterSettings")),
            capacity_providers=properties.get("CapacityProviders"),
            default_capacity_provider_strategy=_camel(
                properties.get("DefaultCapacityProviderStrategy")
            ),
        )


class EcsTaskDefinition(TaskDefinition):
    """A Fargate task definition with its roles, sizes, network mode and secrets."""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> TaskDefinition:
        properties = cloudformation_json["Properties"]
        return ecs_backends[account_id][region_name].register_task_definition(
            family=properties.get("Family", resource_name),
            container_definitions=_camel(properties["ContainerDefinitions"]),
            volumes=_camel(properties.get("Volumes")),
            network_mode=properties.get("NetworkMode"),
            requires_compatibilities=properties.get("RequiresCompatibilities"),
            cpu=str(properties["Cpu"]) if "Cpu" in properties else None,
            memory=str(properties["Memory"]) if "Memory" in properties else None,
            task_role_arn=properties.get("TaskRoleArn"),
            execution_role_arn=properties.get("ExecutionRoleArn"),
            runtime_platform=_camel(properties.get("RuntimePlatform")),
        )

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> TaskDefinition:
        # A changed task definition is a new revision (the old one stays registered).
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )


class EcsService(Service):
    """A Fargate service with its name, load balancer, network and capacity providers."""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Service:
        properties = cloudformation_json["Properties"]
        cluster = properties["Cluster"]
        cluster = cluster.name if isinstance(cluster, Cluster) else cluster.rsplit("/", 1)[-1]
        definition = properties["TaskDefinition"]
        if isinstance(definition, TaskDefinition):
            definition = definition.arn
        # CloudFormation starts a service without DesiredCount with one task.
        service = ecs_backends[account_id][region_name].create_service(
            cluster,
            properties.get("ServiceName", resource_name),
            int(properties.get("DesiredCount", 1)),
            task_definition_str=definition,
            load_balancers=_camel(properties.get("LoadBalancers")),
            platform_version=properties.get("PlatformVersion"),
            propagate_tags=properties.get("PropagateTags", "NONE"),
            network_configuration=_camel(properties.get("NetworkConfiguration")),
        )
        service.capacity_provider_strategy = _camel(properties.get("CapacityProviderStrategy"))
        return service

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Service:
        properties = cloudformation_json["Properties"]
        backend = ecs_backends[account_id][region_name]
        definition = properties["TaskDefinition"]
        if isinstance(definition, TaskDefinition):
            definition = definition.arn
        return backend.update_service(
            cluster_str=original_resource.cluster_name,
            service_str=original_resource.name,
            task_definition_str=definition,
            desired_count=int(properties.get("DesiredCount", original_resource.desired_count)),
        )


class RdsDbCluster(_Recreated, _Taught, CloudFormationModel):
    """An Aurora cluster (moto's CloudFormation has no DBCluster), through moto's RDS backend."""

    TYPE = "AWS::RDS::DBCluster"
    NAME_PROPERTY = "DBClusterIdentifier"
    # moto splits `DatabaseCluster.Endpoint.Address` at every dot and asks for the
    # second part: its "Endpoint" is the template's Endpoint.Address.
    ATTRIBUTES = frozenset({"Endpoint", "Endpoint.Address", "DBClusterArn"})

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> _Created:
        from moto.rds.models import rds_backends

        identifier = properties.get("DBClusterIdentifier", resource_name).lower()
        cluster = rds_backends[account_id][region_name].create_db_cluster(
            {
                "db_cluster_identifier": identifier,
                "engine": properties["Engine"],
                "engine_version": properties.get("EngineVersion"),
                "database_name": properties.get("DatabaseName"),
                "master_username": properties.get("MasterUsername"),
                "master_user_password": properties.get("MasterUserPassword"),
                "db_subnet_group_name": properties.get("DBSubnetGroupName"),
                "port": properties.get("Port"),
                "vpc_security_group_ids": properties.get("VpcSecurityGroupIds"),
                "serverless_v2_scaling_configuration": properties.get(
                    "ServerlessV2ScalingConfiguration"
                ),
                "storage_encrypted": properties.get("StorageEncrypted"),
                "deletion_protection": properties.get("DeletionProtection"),
                "backup_retention_period": properties.get("BackupRetentionPeriod"),
                "copy_tags_to_snapshot": properties.get("CopyTagsToSnapshot"),
                "enable_cloudwatch_logs_exports": properties.get("EnableCloudwatchLogsExports"),
            }
        )
        return _Created(
            identifier,
            **{
                "Endpoint": cluster.endpoint,
                "Endpoint.Address": cluster.endpoint,
                "DBClusterArn": cluster.db_cluster_arn,
            },
        )


class RdsDbInstance(DBInstance):
    """A cluster's instance (moto's own model drops DBClusterIdentifier)."""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> DBInstance:
        from moto.rds.models import rds_backends

        properties = cloudformation_json["Properties"]
        if "DBClusterIdentifier" not in properties:
            return super().create_from_cloudformation_json(
                resource_name, cloudformation_json, account_id, region_name, **kwargs
            )
        return rds_backends[account_id][region_name].create_db_instance(
            {
                "db_instance_identifier": properties.get(
                    "DBInstanceIdentifier", resource_name
                ).lower(),
                "engine": properties["Engine"],
                "db_instance_class": properties["DBInstanceClass"],
                "db_cluster_identifier": properties["DBClusterIdentifier"],
                "publicly_accessible": properties.get("PubliclyAccessible"),
                "auto_minor_version_upgrade": properties.get("AutoMinorVersionUpgrade"),
            }
        )


# Types whose moto model is replaced by the richer one above (a subclass of moto's own).
REPLACED = (EcsCluster, EcsTaskDefinition, EcsService, RdsDbInstance)


def _load_balancer_full_name() -> None:
    """Teach moto's load balancer the `LoadBalancerFullName` attribute (app/name/id)."""
    from moto.elbv2.models import FakeLoadBalancer

    if getattr(FakeLoadBalancer, "_automl_full_name", False):
        return
    get_attribute = FakeLoadBalancer.get_cfn_attribute
    has_attribute = FakeLoadBalancer.has_cfn_attr

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name == "LoadBalancerFullName":
            return self.arn.split(":loadbalancer/", 1)[1]
        return get_attribute(self, attribute_name)

    def has_cfn_attr(cls: Any, attr: str) -> bool:
        return attr == "LoadBalancerFullName" or has_attribute(attr)

    FakeLoadBalancer.get_cfn_attribute = get_cfn_attribute  # type: ignore[method-assign]
    FakeLoadBalancer.has_cfn_attr = classmethod(has_cfn_attr)  # type: ignore[method-assign,assignment]
    FakeLoadBalancer._automl_full_name = True  # type: ignore[attr-defined]


# The types moto's CloudFormation still cannot create, after the models above.
STILL_UNSUPPORTED = {
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Stage",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
}


def install() -> None:
    """Make moto's CloudFormation see the models above (its type map is cached)."""
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    if not getattr(parsing.get_model_map, "_automl_replaced", False):
        own = parsing.get_model_map

        @functools.lru_cache
        def get_model_map() -> dict[str, type[CloudFormationModel]]:
            return {**own(), **{m.cloudformation_type(): m for m in REPLACED}}

        get_model_map._automl_replaced = True  # type: ignore[attr-defined]
        get_model_map.cache_clear = _clear_both(own, get_model_map)  # type: ignore[method-assign]
        parsing.get_model_map = get_model_map  # type: ignore[assignment]
    _load_balancer_full_name()


def _clear_both(own: Any, replaced: Any) -> Any:
    clear_replaced = replaced.cache_clear

    def cache_clear() -> None:
        own.cache_clear()
        clear_replaced()

    return cache_clear
