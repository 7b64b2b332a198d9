"""Alarms that reach a person: every alarm of deploy/automl-lite.yaml and the failed-job rule
publish to the stack's alarm topic, checked on the template and on what moto creates.

moto's EventBridge cannot deliver to SNS targets (it raises NotImplementedError), so the rule's
pattern and message are proven by swapping the created rule's topic target for a test-only
SQS queue with the same input transformer and sending it Batch's own state-change events.
"""

from __future__ import annotations

import json

import pytest
from cfnlint.decode import decode

from tests.aws.stack import TEMPLATE, deploy_stack

EMAIL = "ops@example.com"
# Each alarm of the stack: (namespace, metric, the dimension it watches).
EXPECTED_ALARMS = {
    "automl-lite-failed-jobs-per-hour": ("AWS/Events", "TriggeredRules", "RuleName"),
    "automl-lite-tasks-dead-lettered": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
    ),
    "automl-lite-web-errors": ("AWS/Lambda", "Errors", "FunctionName"),
    "automl-lite-web-throttles": ("AWS/Lambda", "Throttles", "FunctionName"),
    "automl-lite-worker-errors": ("AWS/Lambda", "Errors", "FunctionName"),
    "automl-lite-worker-throttles": ("AWS/Lambda", "Throttles", "FunctionName"),
}


def template() -> dict:
    decoded, problems = decode(str(TEMPLATE))
    assert not problems
    return decoded


def resources_of(kind: str) -> dict:
    return {k: v for k, v in template()["Resources"].items() if v["Type"] == kind}


@pytest.fixture(scope="module")
def stack():
    from moto import mock_aws

    with mock_aws(config={"batch": {"use_docker": False}}):
        yield deploy_stack(two_phase=True, AlarmEmail=EMAIL)


def batch_event(status: str, job_queue: str) -> dict:
    """A `Batch Job State Change` event as AWS Batch sends it (the fields the rule reads)."""
    return {
        "Source": "aws.batch",
        "DetailType": "Batch Job State Change",
        "Detail": json.dumps(
            {
                "jobName": "automl-ds1-job1-a1",
                "jobId": "4c7599ae-0a82-49aa-ba5a-4727fcce14a8",
                "jobQueue": job_queue,
                "status": status,
                "statusReason": "Essential container in task exited",
                "attempts": [],
            }
        ),
    }


# --------------------------------------------------------------------------- the template


# The ECS worker's two scaling alarms act on its scaling policies instead of a person.
SCALING_ALARMS = {
    "WorkerQueueWaitingAlarm": "WorkerScaleOutPolicy",
    "WorkerQueueIdleAlarm": "WorkerScaleInPolicy",
}


def test_every_alarm_notifies_the_alarm_topic_except_the_workers_scaling_alarms():
    alarms = resources_of("AWS::CloudWatch::Alarm")

    assert len(alarms) >= len(EXPECTED_ALARMS) + len(SCALING_ALARMS)
    for name, alarm in alarms.items():
        target = SCALING_ALARMS.get(name, "AlarmTopic")
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": target}], name


def test_the_failed_job_rule_sends_failed_jobs_of_the_stacks_queue_to_the_topic():
    (rule,) = [
        r for r in resources_of("AWS::Events::Rule").values() if "EventPattern" in r["Properties"]
    ]
    properties = rule["Properties"]

    assert properties["EventPattern"] == {
        "source": ["aws.batch"],
        "detail-type": ["Batch Job State Change"],
        "detail": {"status": ["FAILED"], "jobQueue": [{"Ref": "TrainingJobQueue"}]},
    }
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Ref": "AlarmTopic"}


def test_the_topic_policy_lets_only_the_rule_and_the_stacks_alarms_publish():
    (policy,) = resources_of("AWS::SNS::TopicPolicy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}

    events = statements["FailedTrainingJobs"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert events["Action"] == "sns:Publish"
    assert events["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["FailedTrainingJobRule", "Arn"]}}
    }
    assert statements["CloudWatchAlarms"]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert "ArnLike" in statements["CloudWatchAlarms"]["Condition"]


def test_the_email_subscription_exists_only_when_an_address_is_given():
    (subscription,) = resources_of("AWS::SNS::Subscription").values()

    assert subscription["Condition"] == "HasAlarmEmail"
    assert template()["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }
    assert template()["Parameters"]["AlarmEmail"]["Default"] == ""


def test_every_log_group_has_a_retention_and_a_deletion_policy():
    groups = resources_of("AWS::Logs::LogGroup")

    assert len(groups) >= 4
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert group["DeletionPolicy"] in {"Delete", "Retain"}, name
        assert group["UpdateReplacePolicy"] == group["DeletionPolicy"], name


# --------------------------------------------------------------------------- created in moto


def test_the_stack_creates_each_alarm_on_its_own_resource_and_wires_it_to_the_topic(stack):
    topic = stack.outputs["AlarmTopicArn"]
    cloudwatch = stack.client("cloudwatch")
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    watched = {
        "automl-lite-failed-jobs-per-hour": stack.physical_id("FailedTrainingJobRule"),
        "automl-lite-tasks-dead-lettered": "automl-lite-tasks-dlq",
        "automl-lite-web-errors": stack.outputs["WebFunctionName"],
        "automl-lite-web-throttles": stack.outputs["WebFunctionName"],
        "automl-lite-worker-errors": stack.outputs["WorkerFunctionName"],
        "automl-lite-worker-throttles": stack.outputs["WorkerFunctionName"],
    }

    assert set(EXPECTED_ALARMS) <= set(alarms)
    for name, (namespace, metric, dimension) in EXPECTED_ALARMS.items():
        alarm = alarms[name]
        assert alarm["AlarmActions"] == [topic], name
        assert (alarm["Namespace"], alarm["MetricName"]) == (namespace, metric)
        assert alarm["Dimensions"] == [{"Name": dimension, "Value": watched[name]}], name
        assert alarm["ComparisonOperator"].startswith("GreaterThan")
    assert alarms["automl-lite-tasks-dead-lettered"]["Threshold"] == 0
    hourly = alarms["automl-lite-failed-jobs-per-hour"]
    assert (hourly["Period"], hourly["Statistic"], hourly["Threshold"]) == (3600, "Sum", 3)


def test_the_dead_letter_alarm_watches_the_queue_the_task_queue_redrives_to(stack):
    sqs = stack.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=stack.outputs["TaskQueueUrl"], AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    dead_letter_arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    (alarm,) = stack.client("cloudwatch").describe_alarms(
        AlarmNames=["automl-lite-tasks-dead-lettered"]
    )["MetricAlarms"]

    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": dead_letter_arn.split(":")[-1]}]


def test_the_topic_has_the_policy_and_the_email_subscription(stack):
    sns = stack.client("sns")
    topic = stack.outputs["AlarmTopicArn"]

    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]

    principals = {json.dumps(s["Principal"], sort_keys=True) for s in policy["Statement"]}
    assert json.dumps({"Service": "events.amazonaws.com"}) in principals
    rule_arn = stack.client("events").describe_rule(Name="automl-lite-training-failed")["Arn"]
    (events,) = [s for s in policy["Statement"] if s["Sid"] == "FailedTrainingJobs"]
    assert events["Condition"]["ArnEquals"]["aws:SourceArn"] == rule_arn
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", EMAIL)


def test_only_failed_jobs_of_the_stacks_queue_reach_the_topic_with_their_reason(stack):
    events = stack.client("events")
    sqs = stack.client("sqs")
    (topic_target,) = events.list_targets_by_rule(Rule="automl-lite-training-failed")["Targets"]
    assert topic_target["Arn"] == stack.outputs["AlarmTopicArn"]
    # A test-only target that moto can deliver to, with the topic target's message.
    inbox = sqs.create_queue(QueueName="alarm-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_targets(
        Rule="automl-lite-training-failed",
        Targets=[
            {"Id": "inbox", "Arn": inbox_arn, "InputTransformer": topic_target["InputTransformer"]}
        ],
    )
    events.remove_targets(Rule="automl-lite-training-failed", Ids=[topic_target["Id"]])
    # moto hands every event to schedule rules too (and cannot invoke their Lambda target).
    for rule in events.list_rules()["Rules"]:
        if "ScheduleExpression" in rule:
            targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            events.remove_targets(Rule=rule["Name"], Ids=[t["Id"] for t in targets])
    queue = stack.outputs["TrainingJobQueueArn"]

    events.put_events(
        Entries=[
            batch_event("FAILED", queue),
            batch_event("SUCCEEDED", queue),
            batch_event("FAILED", queue.replace("automl-lite-training", "someone-else")),
        ]
    )

    messages = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in messages] == [
        '"AutoML Lite training job automl-ds1-job1-a1 (Batch job '
        '4c7599ae-0a82-49aa-ba5a-4727fcce14a8) failed: Essential container in task exited"'
    ]
