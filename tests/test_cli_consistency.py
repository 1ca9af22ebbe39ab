"""One vocabulary across the command line: an option name means the same thing in every
command that has it, every option says what it does, and a mistake shows the usage of the
command it was made in."""

from __future__ import annotations

import argparse

import pytest

from hlsgen.cli import COMMANDS, build_parser, main


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: action for action in parser._actions for flag in action.option_strings}


def meaning(action: argparse.Action) -> tuple:
    return (action.dest, type(action).__name__, action.nargs, action.type, action.default,
            action.choices, action.metavar)


def test_every_command_is_registered():
    assert set(subparsers()) == set(COMMANDS)


def test_a_shared_option_means_the_same_in_every_command():
    seen: dict[str, tuple[str, tuple]] = {}
    for command, parser in subparsers().items():
        for flag, action in options(parser).items():
            if flag in ("-h", "--help"):
                continue
            if flag in seen:
                first, first_meaning = seen[flag]
                assert meaning(action) == first_meaning, (
                    f"{flag} means {meaning(action)} in {command} but {first_meaning} in {first}")
            else:
                seen[flag] = (command, meaning(action))
    # the vocabulary the issue asked for, in every command that takes a target or workers
    for flag in ("--device", "--part", "--jobs", "--input-range", "--design"):
        assert flag in seen, flag


def test_every_option_has_help_text():
    for command, parser in subparsers().items():
        for action in parser._actions:
            assert action.help and action.help != argparse.SUPPRESS, (
                f"hlsgen {command}: {action.option_strings or action.dest} has no help")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_unknown_option_shows_the_commands_usage(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "model.onnx", "-o", "x", "--data", "d.npz", "--no-such-option"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"usage: hlsgen {command}" in err and "--no-such-option" in err
