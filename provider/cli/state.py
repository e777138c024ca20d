"""What every command shares: the config sources given on the command line, loaded on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import structlog
import typer

from telemetry.logs import configure_logging

from ..config import ConfigError, LoadedSettings, load_settings

__all__ = ["CliState", "fail", "state_of"]


def fail(message: str, *, code: int = 2) -> typer.Exit:
    """Print one line to stderr and return the exit to raise (2: bad usage or config)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@dataclass
class CliState:
    """Config flags split out of argv, the `--config` file, and the settings they load to.

    `verbose` writes log lines (at `log.level`); without it a command's output has none.
    `serve` sets it: a server's log lines are its output. `log_processors` run first on every
    line (`serve` drops the lines of replayed handler code with one)."""

    flags: dict[str, str] = field(default_factory=dict)
    config_file: Path | None = None
    verbose: bool = False
    log_processors: list[structlog.typing.Processor] = field(default_factory=list)

    @cached_property
    def loaded(self) -> LoadedSettings:
        """Settings from every source; a bad setting ends the command with one line."""
        try:
            loaded = load_settings(config_file=self.config_file, flags=self.flags)
        except ConfigError as error:
            raise fail(str(error)) from None
        log = loaded.settings.log
        configure_logging(
            level=log.level if self.verbose else "off",
            fmt=log.format,
            extra_processors=self.log_processors,
        )
        return loaded


def state_of(ctx: typer.Context) -> CliState:
    """The shared state the root command put on the context."""
    state = ctx.find_root().obj
    assert isinstance(state, CliState)
    return state
