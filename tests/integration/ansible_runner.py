"""Run the collection's modules and playbooks through the real ansible / ansible-playbook CLIs."""
import json
import os
import pathlib
import subprocess
import sys

from tests.lab.config import REPO_ROOT

COLLECTIONS = REPO_ROOT / ".build" / "collections"
BIN = pathlib.Path(sys.executable).parent
CALLBACKS = pathlib.Path(__file__).with_name("callback_plugins")


def _env(extra=None):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
        "ANSIBLE_STDOUT_CALLBACK": "result_json",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{BIN}:{env.get('PATH', '')}",
    })
    env.update(extra or {})
    return env


def run_module(module, args, check=False, diff=False, env=None):
    """One module call on localhost; returns the module's result dict (failed ones included)."""
    argv = [str(BIN / "ansible"), "localhost", "-c", "local", "-m", f"openstack_ops.runbooks.{module}",
            "-a", json.dumps(args)]
    argv += ["--check"] * check + ["--diff"] * diff
    _rc, report = _run_json(argv, env, timeout=600)
    return report["plays"][0]["tasks"][0]["hosts"]["localhost"]


def run_playbook(playbook, extra_vars=None, check=False, diff=False, inventory="localhost,", env=None):
    """Run a playbook; returns (rc, the json callback's report)."""
    argv = [str(BIN / "ansible-playbook"), "-i", inventory, "-c", "local", str(playbook)]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    argv += ["--check"] * check + ["--diff"] * diff
    return _run_json(argv, env, timeout=1800)


def _run_json(argv, env, timeout):
    """(rc, the JSON the json callback printed) of an ansible command; no JSON fails the test with its output."""
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(env), timeout=timeout, check=False)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError as err:
        raise AssertionError(f"{pathlib.Path(argv[0]).name} printed no JSON (rc {proc.returncode}):\n{proc.stdout}\n"
                             f"{proc.stderr}") from err
