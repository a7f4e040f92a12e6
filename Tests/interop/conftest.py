"""LANTERN_EMULATED=1 (the binary runs under qemu-user): tests that measure something differently
for that record a note through the `emulated_note` fixture; the notes are printed as
`EMULATED: ...` lines in the terminal summary, which `pytest -q` still shows (CI collects them)."""
import pytest

_NOTES = []


@pytest.fixture
def emulated_note():
    return lambda text: _NOTES.append(text)


def pytest_terminal_summary(terminalreporter):
    for note in dict.fromkeys(_NOTES):
        terminalreporter.write_line(f"EMULATED: {note}")
