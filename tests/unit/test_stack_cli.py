import re

import pytest

from emulators.stack import main


def test_help_shows_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # help wraps lines at the terminal width
    assert "usage: python -m emulators.stack" in text
    for option, default in [
        ("--api-port", "8080"),
        ("--worker-port", "8081"),
        ("--bulk-port", "8082"),
        ("--pubsub-port", "8085"),
        ("--firestore-port", "8086"),
        ("--storage-port", "4443"),
        ("--base-path", "/api/image/soda"),
    ]:
        assert re.search(rf"{option} \S+ [^()]*\(default: {re.escape(default)}\)", text), option
