"""schemathesis hooks for the contract run: run_contract.py names this module in
SCHEMATHESIS_HOOKS."""

from __future__ import annotations

import hashlib
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
COMPONENTS = json.loads(DOCUMENT.read_text("utf-8"))["components"]
WEBHOOK_URL = COMPONENTS["schemas"]["WebhookURL"]
IDEMPOTENCY_KEY = COMPONENTS["parameters"]["IdempotencyKey"]["name"]
IDEMPOTENCY_PATTERN = COMPONENTS["parameters"]["IdempotencyKey"]["schema"]["pattern"]


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


def drawn_positive(case, location: ParameterLocation) -> bool:  # noqa: ANN001
    """Whether the case's parameters at `location` were drawn to fit the schema."""
    return not drawn_to_break(case, location)


@schemathesis.hook
def before_call(ctx, case, **kwargs) -> None:  # noqa: ANN001 (schemathesis's signature)
    """Three values that state decides, not the schema:

    - a submit's schema-valid `webhook` is sent as the run's own receiver, which the server
      is started to allow: any other host would have to resolve to a public address, which
      a schema cannot state and this offline run cannot offer (the document describes that
      400);
    - a submit's schema-valid `Idempotency-Key` gets a suffix made from the rest of the
      request, so that the same request replays it (as the document says) and another
      never meets it: a key already used for a different request is a 422 of the server's
      state;
    - an upload's schema-valid `data:` URLs are sent as a real PNG: the schema states base64
      of an image type, not that the bytes are an image, which the server checks (the
      document describes that 400).

    Values drawn to break the schema are sent as drawn."""
    if case.operation.path == "/upload-asset":
        body = case.body
        if (isinstance(body, dict) and isinstance(body.get("data_urls"), list)
                and not drawn_to_break(case, ParameterLocation.BODY)):
            body["data_urls"] = [PNG if isinstance(url, str) and url.startswith("data:image/") else url
                                 for url in body["data_urls"]]
        return
    if case.operation.path not in SUBMITS:
        return
    if case.query and schema_valid(case.query.get("webhook")) and drawn_positive(case, ParameterLocation.QUERY):
        case.query["webhook"] = RECEIVER
    key = (case.headers or {}).get(IDEMPOTENCY_KEY)
    if isinstance(key, str) and re.search(IDEMPOTENCY_PATTERN, key) and drawn_positive(case, ParameterLocation.HEADER):
        request = json.dumps([case.operation.path, case.path_parameters, case.query, case.body],
                             sort_keys=True, default=repr)
        case.headers[IDEMPOTENCY_KEY] = key[:200] + "-" + hashlib.sha256(request.encode()).hexdigest()[:16]
