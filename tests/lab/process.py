"""Start, watch and stop the lab's daemons: by PID, on loopback ports, with clear failures."""
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request


class LabError(Exception):
    """A lab state an operator must fix by hand: the message says what and how."""


def port_open(port, host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def require_free(ports):
    """Fail before starting anything if one of our ports is taken by someone else."""
    taken = {name: port for name, port in ports.items() if port_open(port)}
    if taken:
        listing = ", ".join(f"{name}={port}" for name, port in sorted(taken.items()))
        raise LabError(
            f"lab port(s) already in use: {listing}. Stop whatever listens there "
            "(`ss -ltnp`), or move the lab with OPS_LAB_PORT_BASE=<n>.")


def alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); it is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def spawn(argv, log_path, env=None, cwd=None):
    """Start a daemon in its own session so a signal to its group reaches its children too."""
    log = open(log_path, "ab")  # pylint: disable=consider-using-with
    try:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, start_new_session=True)
    finally:
        log.close()
    return proc.pid


def spawn_gunicorn(venv_bin, app, port, directory, log_path, env, workers=1, threads=1):
    """gunicorn serving app on loopback, configured by directory/gunicorn.conf.py and given no arguments.

    keystone and nova-api parse the process's argv as their own options and refuse gunicorn's.
    """
    settings = {"wsgi_app": app, "bind": f"127.0.0.1:{port}", "workers": workers, "threads": threads,
                "timeout": 120, "control_socket_disable": True}
    (directory / "gunicorn.conf.py").write_text("".join(f"{key} = {value!r}\n" for key, value in settings.items()))
    return spawn([str(venv_bin / "gunicorn")], log_path, env=env, cwd=directory)


def run_tool(argv, env=None):
    """Run a setup command (db sync, bootstrap, nova-manage) to its end; returns its stdout.

    LabError names the command and shows the tail of its output when it fails.
    """
    argv = [str(arg) for arg in argv]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if result.returncode:
        raise LabError(f"{' '.join(argv)} failed (rc {result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    return result.stdout


def answers(url, headers=None):
    """The service behind url answers 200 (what each service's readiness wait polls)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_until(check, timeout, what, pid=None, log_path=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if pid is not None and not alive(pid):
            raise LabError(f"{what}: the process (pid {pid}) exited during start-up.{_log_tail(log_path)}")
        time.sleep(0.1)
    raise LabError(f"{what}: not ready after {timeout:.0f}s.{_log_tail(log_path)}")


def _log_tail(log_path, lines=15):
    if not log_path or not os.path.exists(log_path):
        return ""
    with open(log_path, "rb") as log:
        tail = log.read()[-4000:].decode("utf-8", "replace").splitlines()[-lines:]
    return f"\n--- last lines of {log_path} ---\n" + "\n".join(tail)


def stop(pid, timeout=20.0):
    """SIGTERM the process group led by pid, SIGKILL it if it does not go in time."""
    if not alive(pid):
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(pid)
            if not alive(pid):
                return True
            time.sleep(0.1)
    return not alive(pid)


def _reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
