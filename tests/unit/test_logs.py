"""Logging: secrets are masked before rendering; JSON off a terminal, readable on one; a line
written inside a span carries its trace."""

from __future__ import annotations

import io
import json

from opentelemetry.sdk.trace import TracerProvider
from pydantic import SecretStr

from telemetry.logs import REDACTED, configure_logging, get_logger, redact_secrets

SECRET = "key_0123456789abcdefXYZ"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_secret_looking_keys_are_masked() -> None:
    event = redact_secrets(
        None,
        "info",
        {
            "event": "calling",
            "api_key": SECRET,
            "headers": {"Authorization": f"Bearer {SECRET}", "Accept": "application/json"},
            "password": "hunter2",
            "auth_type": "api_key",
            "workflow_id": "tenant-provisioning",
            "empty_token": "",
        },
    )
    assert event["api_key"] == REDACTED
    assert event["headers"] == {"Authorization": REDACTED, "Accept": "application/json"}
    assert event["password"] == REDACTED
    assert event["auth_type"] == "api_key"
    assert event["workflow_id"] == "tenant-provisioning"
    assert event["empty_token"] == ""


def test_secrets_inside_text_and_secret_values_are_masked() -> None:
    event = redact_secrets(
        None,
        "info",
        {
            "event": f"request failed with header Bearer {SECRET}",
            "detail": f"bad key {SECRET} given",
            "value": SecretStr("hidden"),
            "items": [f"Basic {SECRET}"],
        },
    )
    rendered = json.dumps(event, default=str)
    assert SECRET not in rendered
    assert "hidden" not in rendered
    assert event["event"] == "request failed with header Bearer ***"
    assert event["detail"] == "bad key key_*** given"


def test_json_when_not_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    get_logger("test").info("provisioned", tenant_id="acme", api_key=SECRET)
    line = json.loads(stream.getvalue())
    assert line["event"] == "provisioned"
    assert line["tenant_id"] == "acme"
    assert line["level"] == "info"
    assert line["api_key"] == REDACTED
    assert "timestamp" in line
    assert SECRET not in stream.getvalue()


def test_a_line_inside_a_span_carries_its_trace_and_span_ids() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, fmt="json")
    tracer = TracerProvider().get_tracer("test")
    get_logger("test").info("outside")
    with tracer.start_as_current_span("operation") as span:
        get_logger("test").info("inside")
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "trace_id" not in outside
    assert "span_id" not in outside
    context = span.get_span_context()
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")


def test_key_values_on_a_terminal() -> None:
    stream = Tty()
    configure_logging(stream=stream)
    get_logger("test").info("provisioned", tenant_id="acme", token=SECRET)
    text = stream.getvalue()
    assert "provisioned" in text
    assert "tenant_id" in text
    assert "acme" in text
    assert SECRET not in text
    assert not text.lstrip().startswith("{")


def test_level_filters() -> None:
    stream = io.StringIO()
    configure_logging(level="warning", fmt="json", stream=stream)
    logger = get_logger("test")
    logger.info("quiet")
    logger.warning("loud")
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["loud"]
