"""Bad lab states give messages that say what to do, and start nothing."""
import json
import shutil
import socket
import subprocess

import pytest

from tests.lab import Lab, LabConfig, LabError
from tests.lab import lab as lab_module


@pytest.fixture
def spare_lab(tmp_path):
    """A lab object on its own state dir and ports; never started by these tests."""
    return Lab(LabConfig(state_dir=tmp_path / "lab", port_base=26800,
                         venv_bin=LabConfig.from_env().venv_bin))


def test_a_taken_port_is_named_and_nothing_starts(spare_lab):
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", spare_lab.cfg.port("placement")))
        squatter.listen()
        with pytest.raises(LabError) as err:
            spare_lab.up(log=lambda _msg: None)
    assert f"placement={spare_lab.cfg.port('placement')}" in str(err.value)
    assert "OPS_LAB_PORT_BASE" in str(err.value)
    assert spare_lab.pids == {}


def test_a_half_started_lab_is_refused(spare_lab):
    survivor = subprocess.Popen(["sleep", "60"])  # pylint: disable=consider-using-with
    try:
        spare_lab.cfg.state_dir.mkdir(parents=True)
        spare_lab.state_file.write_text(json.dumps({"pids": {"mariadb": survivor.pid, "rabbitmq": 2 ** 22 + 1}}))
        with pytest.raises(LabError) as err:
            spare_lab.up(log=lambda _msg: None)
        assert "half-started" in str(err.value) and "rabbitmq" in str(err.value)
        assert "make lab-down" in str(err.value)
        assert survivor.poll() is None  # up() did not touch what it found
    finally:
        survivor.kill()
        survivor.wait()


def test_a_missing_debian_package_is_named(spare_lab, monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(lab_module.shutil, "which",
                        lambda tool: None if tool == "mariadbd" else real_which(tool))
    with pytest.raises(LabError) as err:
        spare_lab.up(log=lambda _msg: None)
    assert "mariadb-server" in str(err.value) and "apt-get install" in str(err.value)
    assert spare_lab.pids == {}


def test_down_on_a_lab_that_never_ran_is_quiet(spare_lab):
    assert spare_lab.down(log=lambda _msg: None) == []
