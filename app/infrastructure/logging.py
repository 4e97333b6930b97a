"""Logging through structlog: readable lines in development, JSON lines in production."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

from app.application.request_context import current_request_id
from app.infrastructure.settings import Environment, Settings

# Query parameters that make a link work on their own (a signed image link needs no token).
_SECRET_PARAMETER = re.compile(
    r"(?P<name>[?&](?:[\w.-]*(?:signature|token|credential|key)[\w.-]*))=(?P<value>[^&\s\"']*)",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` with the values of signature-like query parameters replaced."""
    if "?" not in text:
        return text
    return _SECRET_PARAMETER.sub(rf"\g<name>={REDACTED}", text)


class RedactSignedLinks(logging.Filter):
    """Every line logged (the access log's request paths included) keeps its query strings'
    signatures, tokens and credentials out."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        return True


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


def _add_request_id(
    _logger: Any, _method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    if (request_id := current_request_id()) is not None:
        event.setdefault("request_id", request_id)
    return event


def configure_logging(settings: Settings) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.env is Environment.PRODUCTION
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(RedactSignedLinks())
    # No line shows where it was logged from, and finding the caller (structlog's logger class
    # walks the stack past its own frames) was half the cost of an access log line: the
    # logging HOWTO's way to skip it.
    logging._srcfile = None
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
