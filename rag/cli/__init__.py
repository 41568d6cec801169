"""The ``rag`` command: parse, call the library, print. Errors become one line on stderr.

One module per command group (``index``, ``query``, ``evaluate``, ``training``); commands that live
outside the library (``rag serve``, in ``api``) register through the ``rag.commands`` entry points,
so the library never imports the HTTP layer."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import typer

try:  # recent typer vendors its own copy of click
    from typer import _click as click
except ImportError:  # pragma: no cover - older typer uses click itself
    import click  # type: ignore[no-redef]
from rich.markup import escape

from rag.cli import evaluate, index, query, training
from rag.cli.output import err
from rag.errors import RagError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Ask questions of a folder of articles; get extractive answers (a sentence, a list, a table cell) "
    "with exact citations; English questions.",
)
app.command()(index.index)
app.command()(query.ask)
app.command()(query.search)
app.command("eval")(evaluate.eval_command)
app.command()(training.train)


def _register_plugins() -> None:
    for ep in entry_points(group="rag.commands"):
        try:
            command = ep.load()
        except ImportError as exc:  # the extra that provides it is not installed
            command = _missing(ep.name, exc)
        app.command(ep.name)(command)


def _missing(name: str, exc: ImportError):
    def command() -> None:
        raise RagError(f"`rag {name}` needs the api extra ({exc.name} is not installed): pip install -e '.[api]'")

    command.__doc__ = f"(not installed: pip install -e '.[api]' for `rag {name}`)"
    return command


def main() -> None:
    _register_plugins()
    try:
        app(standalone_mode=False)
    except RagError as exc:
        err.print(f"error: {escape(str(exc))}", soft_wrap=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:
        err.print(exc.ctx.get_help() if exc.ctx else "usage: rag COMMAND --help")
        sys.exit(2)
    except click.exceptions.ClickException as exc:
        err.print(f"error: {escape(exc.format_message())}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except (ValueError, OSError) as exc:
        err.print(f"error: {escape(str(exc))}", soft_wrap=True)
        sys.exit(1)
