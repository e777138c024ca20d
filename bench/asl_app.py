"""`bench.asl_app`: the baseline of `bench/asl.py`, and the endpoint its Tasks call.

- `app`: `HandWritten`, the steps of `bench.asl.MACHINE` written by hand as a Restate workflow:
  the same request shaped in Python instead of a `Pass`, the same branch as an `if` instead of
  a `Choice`, the same five HTTP calls (`asl.call_http`, each a durable step followed by a
  status write, as the state machine writes its live status before each step).
- `echo`: a plain ASGI app answering every POST with its body, what both arms' Tasks call.
"""

from __future__ import annotations

from typing import Any

import restate

import asl

__all__ = ["HAND_SERVICE", "TASKS", "app", "echo", "hand_written"]

HAND_SERVICE = "HandWritten"
TASKS = 5

hand_written = restate.Workflow(HAND_SERVICE)


@hand_written.main()
async def run(ctx: restate.WorkflowContext, request: dict[str, Any]) -> dict[str, Any]:
    """Shape the request, choose, call the endpoint five times, merge, check."""
    shaped = {"tenant": request["tenant_id"], "tier": request["tier"], "calls": []}
    if shaped["tier"] == "refused":
        raise restate.TerminalError("Tenant.Refused")
    for step in range(1, TASKS + 1):
        ctx.set("status", {"state": f"Call{step}"})
        answer = await ctx.run_typed(
            f"Call{step}",
            asl.call_http,
            parameters={
                "ApiEndpoint": request["endpoint"],
                "Method": "POST",
                "RequestBody": {"step": step},
            },
            timeout=None,
        )
        shaped["calls"].append(answer["StatusCode"])
    ctx.set("status", {"state": "Done"})
    if len(shaped["calls"]) != TASKS:
        raise restate.TerminalError("Tenant.Incomplete")
    return {"tenant": shaped["tenant"], "calls": shaped["calls"]}


app = restate.app(services=[hand_written])


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer any request with 200 and the body it sent."""
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body or b"null"})
