"""User-facing text never cites the issue tracker: the CLI's help (every command,
found from the typer app, not listed here) and the studio page. A user cannot look
an issue number up; the text has to say the thing itself. And the README tells the
same story as pyproject.toml about what is installed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import flowstyle
from flowstyle.cli import app

ISSUE = re.compile(r"issues?\s*#?\s*\d+", re.IGNORECASE)
NUMBER = re.compile(r"#\d+\b")


def commands(group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    """(argv prefix, command) of the app itself and of every command and sub-command under it
    (typer 0.29 brings its own click, so groups are told by their ``commands``)."""
    found = [(path, group)]
    if isinstance(getattr(group, "commands", None), dict):
        for name, command in group.commands.items():
            found += commands(command, (*path, name))
    return found


def texts(command) -> list[str]:
    """The strings a command's help is made of: its help, its options' help and panel titles."""
    out = [command.help or "", command.short_help or "", command.epilog or ""]
    for param in command.params:
        out += [getattr(param, "help", None) or "", getattr(param, "rich_help_panel", None) or ""]
    return out


def test_every_command_is_found() -> None:
    names = {" ".join(path) for path, _ in commands(typer.main.get_command(app))}
    assert {"", "render", "probe", "studio", "weights", "weights fetch"} <= names  # the walk reaches sub-apps


def test_help_names_no_issue_numbers() -> None:
    runner = CliRunner()
    for path, command in commands(typer.main.get_command(app)):
        # Wide, so that rich neither truncates a panel title nor wraps a reference apart.
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "400"}, terminal_width=400)
        assert result.exit_code == 0, (path, result.output)
        for text in [result.output, *texts(command)]:
            assert not ISSUE.search(text), (path, ISSUE.search(text).group(0))
            assert not NUMBER.search(text), (path, NUMBER.search(text).group(0))


def test_studio_page_names_no_issue_numbers() -> None:
    page = (Path(flowstyle.__file__).parent / "studio" / "static" / "index.html").read_text()
    assert not ISSUE.search(page), ISSUE.search(page).group(0)  # comments included: the page's source is served
    # CSS colours (#223) are no references: look at the rest (markup, text, script).
    visible = re.sub(r"<style>.*?</style>", "", page, flags=re.DOTALL)
    assert not NUMBER.search(visible), NUMBER.search(visible).group(0)


def test_messages_name_no_issue_numbers() -> None:
    """Log lines, error messages and echoed text: the strings in the calls that make them."""
    import ast

    speaks = {"debug", "info", "warning", "error", "exception", "critical", "echo", "secho", "print"}
    found = []
    for path in sorted(Path(flowstyle.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", "")
            if name in speaks or name.endswith(("Error", "Exception", "Warning")):
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    for c in ast.walk(arg):
                        if isinstance(c, ast.Constant) and isinstance(c.value, str) and ISSUE.search(c.value):
                            found.append(f"{path.name}:{c.lineno}: {c.value}")
    assert not found, found


def test_readme_and_pyproject_agree_on_dependencies() -> None:
    """The README installs no core dependency by hand and names no extra that pyproject lacks
    (regression: it called Dask ``distributed``, a core dependency, "the optional extra")."""
    tomllib = pytest.importorskip("tomllib")
    root = Path(flowstyle.__file__).parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    readme = (root / "README.md").read_text()
    extras = set(project.get("optional-dependencies", {}))
    for extra in re.findall(r"pip install [^\s`]*\.\[([\w,-]+)\]", readme):
        assert set(extra.split(",")) <= extras, f"README installs extra [{extra}]; pyproject has {sorted(extras)}"
    core = {re.match(r"[A-Za-z0-9._-]+", d).group(0).lower() for d in project["dependencies"]}
    by_hand = {name.lower() for name in re.findall(r"pip install (?:-\S+ )*([A-Za-z0-9._-]+)", readme)}
    assert not core & by_hand, f"README installs core dependencies by hand: {sorted(core & by_hand)}"
    assert not re.search(r"optional[^.\n]*\bdistributed\b|\bdistributed\b[^.\n]*optional", readme, re.IGNORECASE)
