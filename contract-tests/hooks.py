"""schemathesis hooks for the contract run: run_contract.py names this module in
SCHEMATHESIS_HOOKS."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import schemathesis
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode

RECEIVER = os.environ["NB_CONTRACT_WEBHOOK"]
SUBMITS = ("/v1/{model}", "/v2/{model}")
DOCUMENT = Path(__file__).resolve().parent.parent / "Sources" / "Contract" / "openapi.json"
WEBHOOK_URL = json.loads(DOCUMENT.read_text("utf-8"))["components"]["schemas"]["WebhookURL"]


def schema_valid(value: object) -> bool:
    """Whether `value` is a `webhook` the document allows."""
    return (isinstance(value, str) and len(value) <= WEBHOOK_URL["maxLength"]
            and re.search(WEBHOOK_URL["pattern"], value) is not None)


@schemathesis.hook
def before_call(ctx, case, **kwargs) -> None:  # noqa: ANN001 (schemathesis's signature)
    """A submit's schema-valid `webhook` is sent as the run's own receiver, which the server
    is started to allow: any other host would have to resolve to a public address, which a
    schema cannot state and this offline run cannot offer (the document describes that
    400). A query drawn to break the schema is sent as drawn."""
    if case.operation.path not in SUBMITS or not case.query or not schema_valid(case.query.get("webhook")):
        return
    query = case.meta.components.get(ParameterLocation.QUERY) if case.meta is not None else None
    if query is None or query.mode != GenerationMode.NEGATIVE:
        case.query["webhook"] = RECEIVER
