import pytest

from emulators.processes import StackStartError
from emulators.stack import Stack, StackConfig


def test_missing_gcloud_and_java_stop_the_stack_before_anything_starts(tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    stack = Stack(StackConfig.on_free_ports(tmp_path / "state", load_sample=False))
    with pytest.raises(StackStartError) as info:
        stack.start()
    message = str(info.value)
    assert "gcloud not found" in message
    assert "google-cloud-cli-pubsub-emulator" in message
    assert "java not found" in message
    assert "openjdk-17-jre-headless" in message
    assert stack.processes == []
    assert not (tmp_path / "state" / "logs").exists(), "nothing may have been started"


def test_busy_port_is_refused_with_the_port_named(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = StackConfig.on_free_ports(tmp_path, api_port=port, load_sample=False)
        with pytest.raises(StackStartError, match=f"ports already in use.*{port}"):
            Stack(config).start()
