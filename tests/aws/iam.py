"""IAM enforced in moto, for the principals the template defines.

moto evaluates identity policies once its access control is on
(moto's `set_initial_no_auth_action_count`), but for most services it authorizes every request
against the resource "*" and, for Batch, against a lower-cased action name; a policy scoped
to a table or a job queue, as ours are, would then allow nothing. `enforced_iam` adds what
AWS does and moto does not: the action's real name, and the resources each request acts on
(the table or index of a DynamoDB call, the job queue and job definition of a Batch submit,
the secret of a Secrets Manager read). Every decision is still moto's own policy evaluation.

Two limits of moto's evaluation remain, and the tests say where they meet them:
- a statement with a `Condition` is never satisfied (moto has no request context for identity
  policies), so such statements are checked on the policy document instead;
- resource policies (bucket and queue policies) and permission boundaries are not evaluated.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError
from moto.core.responses import BaseResponse
from moto.iam.access_control import IAMPolicy, IAMRequest

from tests.aws.stack import Stack

ACCOUNT = "123456789012"


@functools.cache
def _operation_names(service: str) -> dict[str, str]:
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    return {name.lower(): name for name in model.operation_names}


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def _batch_resource(kind: str, value: str, region: str) -> str:
    if value.startswith("arn:"):
        return value
    return _arn("batch", region, f"{kind}/{value}")


def action_and_resources(response: BaseResponse) -> tuple[str, list[str]] | None:
    """What AWS would authorize for this request: (action, resources), or None to leave the
    request to moto's own resolution (services whose resources moto determines itself)."""
    service = response.service_name
    region = response.region
    if service == "dynamodb":
        body = getattr(response, "body", None) or {}
        action = response._get_action()
        table = body.get("TableName")
        if not table:
            return action, ["*"]
        resource = _arn("dynamodb", region, f"table/{table}")
        if body.get("IndexName"):
            resource += f"/index/{body['IndexName']}"
        return action, [resource]
    if service == "batch":
        action = _operation_names("batch").get(response._get_action(), response._get_action())
        param = response._get_param
        if action == "SubmitJob":
            return action, [
                _batch_resource("job-queue", param("jobQueue") or "", region),
                _batch_resource("job-definition", param("jobDefinition") or "", region),
            ]
        if action in {"TerminateJob", "CancelJob"}:
            return action, [_arn("batch", region, f"job/{param('jobId') or ''}")]
        return action, ["*"]
    if service == "secretsmanager":
        action = response._get_action()
        secret = response._get_param("SecretId")
        return action, [secret if secret and secret.startswith("arn:") else "*"]
    return None


def _authorize(self: BaseResponse, resource: str = "*") -> None:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return
    resolved = action_and_resources(self)
    if resolved is None:
        return ActionAuthenticatorMixin._authenticate_and_authorize_action(
            self, IAMRequest, resource
        )
    action, resources = resolved
    parsed = urlparse(self.uri)
    path = self.raw_path + (f"?{parsed.query}" if parsed.query else "")
    for each in resources:
        request = IAMRequest(
            account_id=self.current_account,
            method=self.method,
            path=path,
            data=self.data,
            body=self.raw_body,
            headers=self.headers,
            action=action,
        )
        request.check_signature()
        request.check_action_permitted(each)
    return None


@contextmanager
def aws_resolution() -> Iterator[None]:
    """moto's access control, with each request's real action name and resources.

    Turn enforcement itself on inside the block with moto's
    `set_initial_no_auth_action_count(0)`.
    """
    original = BaseResponse._authenticate_and_authorize_normal_action
    original_policy = IAMPolicy.__init__

    def policy(self: IAMPolicy, document: Any) -> None:
        # moto keeps a role's inline policy from CloudFormation as a dict, which its own
        # evaluator cannot read; it reads the same document as JSON text.
        if isinstance(document, dict) and "Statement" in document:
            document = json.dumps(document)
        original_policy(self, document)

    BaseResponse._authenticate_and_authorize_normal_action = _authorize  # type: ignore[method-assign]
    IAMPolicy.__init__ = policy  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseResponse._authenticate_and_authorize_normal_action = original  # type: ignore[method-assign]
        IAMPolicy.__init__ = original_policy  # type: ignore[method-assign]


def principal(stack: Stack, role_logical_id: str) -> dict[str, str]:
    """Temporary credentials of one of the stack's roles (what its service hands the code).

    Taken before enforcement starts: moto cannot evaluate a service principal's trust.
    """
    sts = stack.client("sts")
    role_arn = stack.client("iam").get_role(RoleName=stack.role_name(role_logical_id))["Role"][
        "Arn"
    ]
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=role_logical_id)["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def refused(call: Any, *args: Any, **kwargs: Any) -> bool:
    """Whether AWS (moto with IAM on) refuses the call as not authorized."""
    try:
        call(*args, **kwargs)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # moto answers JSON-protocol services (DynamoDB, Batch) with IAM's XML error, which
        # botocore reads as a bare 403.
        if code in {"AccessDenied", "AccessDeniedException", "403"} or status == 403:
            return True
        raise
    return False
