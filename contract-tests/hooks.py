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


# A 4×4 PNG: what an upload's schema-valid `data:` URL stands for.
PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGM4IScHRwzEcQCxYxBBO0tjggAAAABJRU5Er"
       "kJggg==")


def drawn_to_break(case, location: ParameterLocation) -> bool:  # noqa: ANN001 (a schemathesis Case)
    """Whether schemathesis drew this part of the case to break the schema."""
    part = case.meta.components.get(location) if case.meta is not None else None
    return part is not None and part.mode == GenerationMode.NEGATIVE


@schemathesis.hook
def before_call(ctx, case, **kwargs) -> None:  # noqa: ANN001 (schemathesis's signature)
    """A submit's schema-valid `webhook` is sent as the run's own receiver, which the server
    is started to allow: any other host would have to resolve to a public address, which a
    schema cannot state and this offline run cannot offer (the document describes that
    400). An upload's schema-valid `data:` URLs are sent as a real PNG: the schema states
    base64 of an image type, not that the bytes are an image, which the server checks (the
    document describes that 400). Parts drawn to break the schema are sent as drawn."""
    if case.operation.path == "/upload-asset":
        body = case.body
        if (isinstance(body, dict) and isinstance(body.get("data_urls"), list)
                and not drawn_to_break(case, ParameterLocation.BODY)):
            body["data_urls"] = [PNG if isinstance(url, str) and url.startswith("data:image/") else url
                                 for url in body["data_urls"]]
        return
    if case.operation.path not in SUBMITS or not case.query or not schema_valid(case.query.get("webhook")):
        return
    if not drawn_to_break(case, ParameterLocation.QUERY):
        case.query["webhook"] = RECEIVER
