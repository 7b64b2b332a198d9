"""Resource types of our template that moto's CloudFormation cannot create, taught to it.

moto creates most of `deploy/automl-lite.yaml`, but skips (with a warning) the Secrets
Manager secrets and the HTTP API, and then drops every environment variable that refers to
them: the functions would lose `DJANGO_SECRET_KEY_SECRET_ARN` and the API's host. These
models create them through moto's own Secrets Manager and API Gateway v2 backends, from
the template's own properties, so the stack under test is still the one we ship. The
alarms (CloudWatch alarms, the alarm topic's policy and e-mail subscription) are created
the same way through moto's CloudWatch and SNS backends, so a test reads back what
CloudFormation would have made.

What they do not model: secret rotation, resource policies, KMS keys, or the HTTP API's
routes, integration and stage (moto's CloudFormation has no types for those either; the
template tests check them on the template).
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel


class _Created:
    """What a resource map holds for one created resource: its Ref value and attributes."""

    def __init__(self, physical_resource_id: str, **attributes: str) -> None:
        self.physical_resource_id = physical_resource_id
        self._attributes = attributes

    def get_cfn_attribute(self, name: str) -> str:
        return self._attributes[name]

    def is_created(self) -> bool:
        return True


class SecretsManagerSecret(CloudFormationModel):
    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Created:
        from moto.secretsmanager.models import secretsmanager_backends

        backend = secretsmanager_backends[account_id][region_name]
        properties = cloudformation_json["Properties"]
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


class ApiGatewayV2Api(CloudFormationModel):
    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Api"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in {"ApiId", "ApiEndpoint"}

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Created:
        from moto.apigatewayv2.models import apigatewayv2_backends

        properties = cloudformation_json["Properties"]
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


class CloudWatchAlarm(_Recreated, CloudFormationModel):
    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Created:
        from moto.cloudwatch.models import cloudwatch_backends

        properties = cloudformation_json["Properties"]
        name = properties.get("AlarmName", resource_name)
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=properties["Namespace"],
            metric_name=properties["MetricName"],
            comparison_operator=properties["ComparisonOperator"],
            evaluation_periods=int(properties["EvaluationPeriods"]),
            period=int(properties["Period"]),
            threshold=float(properties["Threshold"]),
            statistic=properties["Statistic"],
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


class SnsTopicPolicy(_Recreated, CloudFormationModel):
    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Created:
        from moto.sns.models import sns_backends

        properties = cloudformation_json["Properties"]
        backend = sns_backends[account_id][region_name]
        for topic_arn in properties["Topics"]:
            backend.set_topic_attribute(
                topic_arn, "policy", json.dumps(properties["PolicyDocument"])
            )
        return _Created(resource_name)


class SnsSubscription(_Recreated, CloudFormationModel):
    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Created:
        from moto.sns.models import sns_backends

        properties = cloudformation_json["Properties"]
        subscription = sns_backends[account_id][region_name].subscribe(
            properties["TopicArn"], properties["Endpoint"], properties["Protocol"]
        )
        return _Created(subscription.arn, Arn=subscription.arn)


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
