"""The command line's own behaviour: subcommands listed, bad flags refused with status 1."""
import pytest

from convviz.cli import main


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    for command in ("summary", "train", "download", "bench", "gui"):
        assert command in out


@pytest.mark.parametrize("argv, message", [
    (["train", "convnetjs", "--optimizer", "foo"], "invalid choice: 'foo'"),
    (["train", "convnetjs", "--epochs", "two"], "invalid int value: 'two'"),
    (["train"], "required: net"),
    (["summary", "seed", "--colour"], "unrecognized arguments: --colour"),
    (["bench", "--only", "gpu"], "invalid choice: 'gpu'"),
])
def test_bad_flags_exit_with_status_1_and_say_why(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 1
    assert message in capsys.readouterr().err
