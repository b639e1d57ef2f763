"""The base of every operator command (``manage.py create_tenant`` ...): one behaviour for bad input.

Any mistake, a missing or unknown argument included, is one line on stderr (``CommandError: ...``) and a
non-zero exit: 2 for a command line argparse refuses (with where to find the usage), 1 for a refusal of the
command itself. Nothing is changed by a refused command. ``quiet_logs`` keeps a command's own report from being
printed twice when the service it calls also logs it (for the worker's log).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

USAGE_ERROR_EXIT = 2


class OperatorCommand(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def one_line_error(message: str) -> NoReturn:
            if not parser.called_from_command_line:
                raise CommandError(f"Error: {message}")
            sys.stderr.write(f"CommandError: {message} (see `manage.py {subcommand} --help`).\n")
            sys.exit(USAGE_ERROR_EXIT)

        parser.error = one_line_error  # type: ignore[method-assign]
        return parser


@contextmanager
def quiet_logs(*names: str, level: int = logging.ERROR) -> Iterator[None]:
    """Below ``level``, the named loggers stay silent while the command prints the same facts itself."""
    loggers = [logging.getLogger(name) for name in names]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, old in zip(loggers, previous, strict=True):
            logger.setLevel(old)
