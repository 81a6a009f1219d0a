"""MariaDB from Debian's packages, in the lab's own datadir, run as user mysql."""
import os
import pwd
import shutil
import stat
import subprocess

from . import process
from .config import DB_USERS, REPO_ROOT

SERVER_CNF = """\
[client]
socket = {socket}
port = {port}

[mysqld]
datadir = {datadir}
socket = {socket}
port = {port}
bind-address = 127.0.0.1
pid-file = {pidfile}
log-error = {log}
skip-name-resolve
max_connections = 600
innodb_buffer_pool_size = 256M
innodb_flush_log_at_trx_commit = 2
character-set-server = utf8mb3
collation-server = utf8mb3_general_ci
"""

DATABASES = ("nova_api", "nova_cell0", "nova_cell1", "nova_cell2", "placement", "keystone", "glance",
             "neutron")


class MariaDB:
    name = "mariadb"

    def __init__(self, cfg):
        self.cfg = cfg
        self.dir = cfg.path("mariadb")
        self.cnf = self.dir / "my.cnf"
        self.log = cfg.path("logs", "mariadb.log")

    def start(self):
        fresh = not (self.dir / "data" / "mysql").is_dir()
        if fresh:
            self._install()
        pid = process.spawn(
            ["mariadbd", f"--defaults-file={self.cnf}", "--user=mysql"], self.log)
        process.wait_until(self.answers, 60, "MariaDB", pid=pid, log_path=self.log)
        if fresh:
            self.sql(_bootstrap_sql())
        return pid

    def _install(self):
        mysql = pwd.getpwnam("mysql")
        data = self.dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        _reachable_by_mysql(self.dir, self.cfg.state_dir)
        self.cnf.write_text(SERVER_CNF.format(
            datadir=data, socket=self.cfg.mysql_socket, port=self.cfg.port("mariadb"),
            pidfile=self.dir / "mariadbd.pid", log=self.log))
        for path in (self.dir, data):
            os.chown(path, mysql.pw_uid, mysql.pw_gid)
        self.log.touch()
        os.chown(self.log, mysql.pw_uid, mysql.pw_gid)
        result = subprocess.run(
            ["mariadb-install-db", f"--defaults-file={self.cnf}", "--user=mysql",
             "--auth-root-authentication-method=socket", "--skip-test-db"],
            capture_output=True, text=True, check=False)
        if result.returncode:
            shutil.rmtree(data, ignore_errors=True)
            raise process.LabError(f"mariadb-install-db failed:\n{result.stdout}\n{result.stderr}")

    def answers(self):
        return subprocess.run(
            ["mariadb-admin", f"--defaults-file={self.cnf}", "-uroot", "ping"],
            capture_output=True, check=False).returncode == 0

    def sql(self, statements, database=None):
        """Run SQL as the server's root (unix socket auth); returns stdout, raises on error."""
        argv = ["mariadb", f"--defaults-file={self.cnf}", "-uroot", "--batch", "--skip-column-names"]
        if database:
            argv.append(database)
        result = subprocess.run(argv, input=statements, capture_output=True, text=True, check=False)
        if result.returncode:
            raise process.LabError(f"SQL failed: {result.stderr.strip()}")
        return result.stdout

    def dump(self, target, databases=DATABASES):
        with open(target, "wb") as out:
            subprocess.run(
                ["mariadb-dump", f"--defaults-file={self.cnf}", "-uroot", "--single-transaction",
                 "--skip-comments", "--add-drop-database", "--databases", *databases],
                stdout=out, check=True)

    def restore(self, source):
        with open(source, "rb") as dump:
            subprocess.run(["mariadb", f"--defaults-file={self.cnf}", "-uroot"],
                           stdin=dump, check=True)


def _reachable_by_mysql(directory, lab_dir):
    """mariadbd runs as mysql and must reach its datadir: every directory above it needs the others' x bit.

    A clone made with `git clone . "$(mktemp -d)"` sits in a 0700 directory. The x bit alone (no listing) is added
    to the lab's directories and the repository's; a directory above those is named, not changed.
    """
    for path in [directory, *directory.parents]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & stat.S_IXOTH:
            continue
        if not (path.is_relative_to(REPO_ROOT) or path.is_relative_to(lab_dir)):
            raise process.LabError(f"MariaDB runs as user mysql, which cannot pass through {path} (mode {mode:o}); "
                                   f"give it the others' x bit (chmod o+x {path}) or set OPS_LAB_DIR to a directory "
                                   "it can reach")
        os.chmod(path, mode | stat.S_IXOTH)


def _bootstrap_sql():
    lines = [f"CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb3;" for db in DATABASES]
    grants = {"nova": "`nova\\_%`.*", "placement": "placement.*", "keystone": "keystone.*", "glance": "glance.*",
              "neutron": "neutron.*", "ops": "*.*"}
    for user, password in DB_USERS.items():
        for host in ("%", "localhost"):
            lines.append(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{password}';")
            lines.append(f"GRANT ALL PRIVILEGES ON {grants[user]} TO '{user}'@'{host}';")
    lines.append("FLUSH PRIVILEGES;")
    return "\n".join(lines)
