"""The cold-start benchmark measures each phase in fresh AWS-mode processes."""

from __future__ import annotations

from bench import cold_start


def test_it_measures_import_with_and_without_bytecode_and_the_first_request():
    result = cold_start.measure(n=1)

    assert result["import_with_bytecode_ms"] > 0
    assert result["import_without_bytecode_ms"] > 0
    assert result["first_request_ms"] > 0
    assert result["import_with_bytecode_cpu_ms"] > 0
    assert result["modules"] > 100  # Django, DRF and the apps were really loaded


def test_its_child_runs_in_aws_mode_with_no_way_to_a_network(tmp_path):
    env = cold_start.aws_mode_env(tmp_path)

    assert env["AUTOML_BACKEND"] == "aws"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    assert "DJANGO_SECRET_KEY_SECRET_ARN" not in env
    assert env["DJANGO_SECRET_KEY"]
