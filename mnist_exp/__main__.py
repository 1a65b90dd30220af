"""`mnist-exp` (`python -m mnist_exp`), `mnist-exp-tune` and `mnist-exp-resume`: the commands
that start runs, started from this light module so that a stop signal is answered from the
first moment, while Python still imports them (`exits.start_command`). Each command is its
module in mnist_exp.cli."""

from mnist_exp.commands import shown
from mnist_exp.exits import start_command


def main() -> int | None:
    return start_command("mnist_exp.cli.train", shown("train"))


def tune() -> int | None:
    return start_command("mnist_exp.cli.tune", shown("tune"))


def resume() -> int | None:
    return start_command("mnist_exp.cli.resume", shown("resume"))


if __name__ == "__main__":
    raise SystemExit(main())
