"""A tiny Restate service for the integration smoke test: one handler, one durable step."""

from __future__ import annotations

import restate

greeter = restate.Service("Greeter")


def _compose_greeting(name: str) -> str:
    """The step's side effect: build the greeting (journaled, so a replay reuses it)."""
    return f"Hello, {name}!"


@greeter.handler()
async def greet(ctx: restate.Context, name: str) -> str:
    """Greet ``name`` through one ``ctx.run_typed`` step."""
    return await ctx.run_typed("compose greeting", _compose_greeting, name=name)


app = restate.app(services=[greeter])
