"""A verified backup (take_backup: dump, gzip, gzip test, completion line, sha256, manifest, rename)
vs the operator's bare `mariadb-dump ... | gzip > file` per database, on the lab's nova and placement schemas.

The difference is the price of the verification that makes a backup one the guard can rely on.
"""
import gzip
import pathlib
import shutil
import subprocess
import tempfile

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb, mariadb_backup as backup

from benchmarks.harness import compare
from tests.lab.config import DB_USERS

DATABASES = ["nova_api", "nova_cell0", "nova_cell1", "nova_cell2", "placement"]


def _body(path):
    """The dump without its timestamp line, which differs between any two runs."""
    with gzip.open(path, "rt") as stream:
        return [line for line in stream if not line.startswith("-- Dump completed")]


def run(lab):
    port = lab.cfg.port("mariadb")
    login = {"login_host": "127.0.0.1", "login_port": port, "login_user": "ops",
             "login_password": DB_USERS["ops"], "config_file": "/nonexistent/.my.cnf"}
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-db-backup-"))
    ours_dir, peer_dir = work / "ours", work / "peer"
    peer_dir.mkdir()
    cnf = work / "peer.cnf"
    cnf.write_text(f"[client]\nuser=ops\npassword={DB_USERS['ops']}\nhost=127.0.0.1\nport={port}\nprotocol=tcp\n")

    def ours():
        server = mariadb.connect(login)
        try:
            return backup.take_backup(str(ours_dir), DATABASES, server)
        finally:
            server.close()

    def peer():
        for database in DATABASES:
            subprocess.run(
                f"mariadb-dump --defaults-extra-file={cnf} --single-transaction --routines --triggers --events "
                f"--hex-blob {database} | gzip > {peer_dir / database}.sql.gz",
                shell=True, check=True)
        return peer_dir

    def same(manifest, peer_path):
        for database in DATABASES:
            assert _body(ours_dir / manifest["id"] / f"{database}.sql.gz") == \
                _body(peer_path / f"{database}.sql.gz"), f"the dumps of {database} differ"

    try:
        return [compare("db_backup_verified_dump", len(DATABASES), ours,
                        "mariadb-dump | gzip (no verification)", peer, check=same)]
    finally:
        shutil.rmtree(work)
