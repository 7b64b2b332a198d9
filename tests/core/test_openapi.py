"""The OpenAPI schema builds without a warning and names every component."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command


@pytest.mark.django_db
def test_it_builds_the_schema_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    components = set(schema["components"]["schemas"])
    assert {"UploadResponse", "DatasetMetadata", "TrainRequest", "JobResponse"} <= components
    assert not {"Output", "Filter", "Input"} & components  # every serializer has a real name
    assert set(schema["components"]["securitySchemes"]) == {"tokenAuth", "cookieAuth"}
