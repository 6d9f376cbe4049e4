"""Running the CLI in-process: ``cli("run", ...)`` returns the exit code and captured output."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from advgeom.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str
    raised_system_exit: bool  # main() should return its code, not raise SystemExit

    @property
    def err_lines(self) -> list[str]:
        return self.err.strip().splitlines()

    def one_line_error(self, code: int = 2) -> str:
        """The user-error contract: exit ``code``, one ``error: ...`` line on stderr, no trace."""
        assert self.code == code, self.err
        assert len(self.err_lines) == 1, self.err
        assert self.err_lines[0].startswith("error: ")
        assert "Traceback" not in self.err
        return self.err_lines[0]


@pytest.fixture
def cli(capsys):
    def invoke(*argv: str) -> Result:
        capsys.readouterr()  # drop whatever came before
        raised = False
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exit_:  # the process would still exit with this code
            code, raised = exit_.code, True
        out, err = capsys.readouterr()
        return Result(code, out, err, raised)

    return invoke



def _page_text(path) -> str:
    """The visible text of an HTML file, whitespace collapsed (standard-library parser)."""
    from html.parser import HTMLParser

    chunks: list[str] = []

    class Reader(HTMLParser):
        def handle_data(self, data):
            chunks.append(data)

    Reader(convert_charrefs=True).feed(path.read_text(encoding="utf-8"))
    return " ".join(" ".join(chunks).split())


@pytest.fixture
def page_text():
    """:func:`_page_text`, for the tests that read a written report."""
    return _page_text
