"""deploy/README.md, the first-deployment guide, agrees with the template it deploys: every AWS
command names the region, every stack output it reads exists, and the tear-down removes
exactly what `delete-stack` leaves behind (the template's `Retain` resources)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from cfnlint.decode import decode

REPO = Path(__file__).resolve().parents[2]
README = REPO / "deploy" / "README.md"
NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
# What each retained type is called in the tear-down section, and what removes it.
RETAINED = {
    "AWS::S3::Bucket": ("S3 buckets", "object_versions.delete()"),
    "AWS::DynamoDB::Table": ("DynamoDB tables", "--no-deletion-protection-enabled"),
    "AWS::ECR::Repository": ("ECR repositories", "delete-repository"),
}


def template() -> dict:
    decoded, problems = decode(str(REPO / "deploy" / "automl-lite.yaml"))
    assert not problems
    return decoded


def shell_commands() -> list[str]:
    """The README's bash blocks as commands (continuation lines joined)."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    joined = "\n".join(blocks).replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip()]


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return " ".join(text[start : end if end > 0 else None].split())


def test_every_aws_command_names_the_region():
    commands = [c for c in shell_commands() if not c.startswith("#")]
    calls = [m for c in commands for m in re.findall(r"\baws [a-z0-9-]+ [a-z0-9-]+[^|;)]*", c)]

    assert len(calls) >= 12
    assert [call for call in calls if "--region" not in call] == []


def test_every_output_the_guide_reads_is_an_output_of_the_template():
    used = set(re.findall(r"\$\(output (\w+)\)", README.read_text()))

    assert {"WebRepositoryUri", "WorkerFunctionName", "TrainingJobQueueArn"} <= used
    assert used <= set(template()["Outputs"])


def test_the_tear_down_removes_what_delete_stack_leaves_behind():
    retained = Counter(
        r["Type"] for r in template()["Resources"].values() if r.get("DeletionPolicy") == "Retain"
    )
    tear_down = section("Tearing down")

    assert "aws cloudformation delete-stack" in tear_down
    assert "wait stack-delete-complete" in tear_down
    assert set(retained) == set(RETAINED)
    for kind, count in retained.items():
        words, remover = RETAINED[kind]
        assert f"{NUMBERS[count]} {words}" in tear_down, kind
        assert remover in tear_down, kind


def test_the_upgrade_says_in_which_order_code_and_migrations_go_and_what_happens_to_jobs():
    upgrade = section("Upgrading")

    assert "Code first, then `migrate`" in upgrade
    for work in ("Running training jobs", "Queued training jobs", "Background tasks"):
        assert work in upgrade
