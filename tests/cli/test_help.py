"""``logway --help`` and every command's ``--help``: each option says what it does."""

from __future__ import annotations

import argparse

import pytest

from logway.broker import SCHEMES
from logway.cli.main import build_parser


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """The parser of every command and subcommand, depth first, with its path."""
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _commands(child, (*path, name))
    return found


COMMANDS = _commands(build_parser())


def test_the_tree_holds_every_command() -> None:
    paths = {" ".join(path) for path, _ in COMMANDS}
    assert {"consume", "topics create", "functions list", "deliver", "backup"} <= paths


@pytest.mark.parametrize(
    "parser",
    [pytest.param(parser, id=" ".join(path) or "logway") for path, parser in COMMANDS],
)
def test_every_option_and_subcommand_has_a_description(parser: argparse.ArgumentParser) -> None:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            described = {choice.dest for choice in action._choices_actions if choice.help}
            missing += [name for name in action.choices if name not in described]
        elif action.option_strings and not action.help:
            missing.append("/".join(action.option_strings))
    assert not missing, f"{parser.prog}: no help text for {missing}"


def test_url_help_names_every_scheme() -> None:
    (url,) = [a for a in build_parser()._actions if "--url" in a.option_strings]
    assert url.help is not None
    for scheme in SCHEMES:
        assert f"{scheme}:" in url.help
