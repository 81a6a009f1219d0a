"""The lab is made of the real services: prove each one answers the way the runbooks rely on."""
import json
import subprocess
import sys

import pymysql
import pytest

from tests.lab.config import CONTROLLERS, DB_USERS


def connect(lab, user="ops", database=None):
    return pymysql.connect(host="127.0.0.1", port=lab.cfg.port("mariadb"), user=user,
                           password=DB_USERS[user], database=database,
                           cursorclass=pymysql.cursors.DictCursor)


def test_mariadb_users_need_their_password(lab):
    with connect(lab, "nova", "nova_api") as conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER() AS who")
        assert cur.fetchone()["who"] == "nova@%"
    with pytest.raises(pymysql.err.OperationalError) as err:
        pymysql.connect(host="127.0.0.1", port=lab.cfg.port("mariadb"), user="nova", password="wrong")
    assert err.value.args[0] == 1045  # access denied


def test_nova_manage_made_cell0_and_two_cells(clean_lab):
    with connect(clean_lab, database="nova_api") as conn, conn.cursor() as cur:
        cur.execute("SELECT name, database_connection, transport_url FROM cell_mappings ORDER BY id")
        cells = cur.fetchall()
    assert [c["name"] for c in cells] == ["cell0", "cell1", "cell2"]
    assert cells[2]["database_connection"].endswith("/nova_cell2?charset=utf8")
    assert cells[1]["transport_url"] != cells[2]["transport_url"]
    # every cell database carries nova's real schema
    for database in ("nova_cell0", "nova_cell1", "nova_cell2"):
        with connect(clean_lab, database=database) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) AS n FROM information_schema.tables "
                        "WHERE table_schema = %s AND table_name IN ('instances', 'migrations', 'compute_nodes')",
                        (database,))
            assert cur.fetchone()["n"] == 3


def test_three_conductors_consume_their_queues(clean_lab):
    for host in CONTROLLERS:
        assert clean_lab.queue_consumers(f"conductor.{host}") == 1
    assert clean_lab.queue_consumers("conductor") == len(CONTROLLERS)
    with connect(clean_lab, database="nova_cell1") as conn, conn.cursor() as cur:
        cur.execute("SELECT host FROM services WHERE `binary` = 'nova-conductor' AND deleted = 0 ORDER BY host")
        assert [row["host"] for row in cur.fetchall()] == list(CONTROLLERS)


PING = """
import sys
import oslo_messaging
from oslo_config import cfg
conf = cfg.CONF  # oslo.messaging registers its tracing options on the global CONF only
conf([], project="lab-ping")
transport = oslo_messaging.get_rpc_transport(conf, url=sys.argv[1])
client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(exchange="nova", topic="conductor", server=sys.argv[2]),
                                       timeout=10)
print(client.call({}, "oslo_rpc_server_ping"))
"""


def test_a_conductor_answers_an_rpc_ping_and_a_stopped_one_does_not(clean_lab):
    ping = [sys.executable, "-c", PING, clean_lab.cfg.transport_url()]
    assert subprocess.run([*ping, "ctl2"], capture_output=True, text=True, timeout=60,
                          check=True).stdout.strip() == "pong"
    clean_lab.stop_conductor("ctl2")
    clean_lab.wait_consumers("conductor.ctl2", 0)
    with pytest.raises(subprocess.CalledProcessError) as err:
        subprocess.run([*ping, "ctl2"], capture_output=True, text=True, timeout=90, check=True)
    assert "MessagingTimeout" in err.value.stderr
    clean_lab.start_conductor("ctl2")
    assert clean_lab.queue_consumers("conductor.ctl2") == 1


def test_placement_seed_builds_nested_sharing_and_custom_classes(placement_seed, clean_lab):
    seed = placement_seed
    root = seed.compute_node("cmp1")
    numa = seed.provider("cmp1_numa0", parent=root)
    seed.inventories(numa, {"VCPU": 4})
    shared = seed.provider("shared-disk")
    seed.inventories(shared, {"DISK_GB": 1000})
    seed.traits(shared, ["MISC_SHARES_VIA_AGGREGATE"])
    aggregate = "6e8b1a4e-0000-4000-8000-000000000001"
    seed.aggregates(shared, [aggregate])
    seed.aggregates(root, [aggregate])
    seed.resource_class("CUSTOM_FPGA")
    seed.inventories(root, {"VCPU": 8, "MEMORY_MB": {"total": 7841, "reserved": 512, "allocation_ratio": 1.5},
                            "CUSTOM_FPGA": 2})
    seed.allocate("11111111-2222-3333-4444-555555555555",
                  {root: {"MEMORY_MB": 1024, "CUSTOM_FPGA": 1}, numa: {"VCPU": 1}, shared: {"DISK_GB": 10}})
    assert seed.usages(root) == {"VCPU": 0, "MEMORY_MB": 1024, "CUSTOM_FPGA": 1}
    assert seed.usages(shared) == {"DISK_GB": 10}
    tree = clean_lab.placement.request("GET", f"/resource_providers?in_tree={root}")["resource_providers"]
    assert {rp["name"] for rp in tree} == {"cmp1", "cmp1_numa0"}


def test_osc_placement_reads_the_lab_through_clouds_yaml(placement_seed, clean_lab):
    placement_seed.compute_node("cmp7")
    env = {"OS_CLIENT_CONFIG_FILE": str(clean_lab.cfg.path("clouds.yaml")), "OS_CLOUD": "opslab",
           "PATH": clean_lab.cfg.venv_bin.as_posix()}
    out = subprocess.run([clean_lab.cfg.bin("openstack"), "resource", "provider", "list", "-f", "json"],
                         capture_output=True, text=True, env=env, timeout=120, check=True).stdout
    assert [rp["name"] for rp in json.loads(out)] == ["cmp7"]


def test_nova_seed_and_nova_manage_agree(nova_seed, clean_lab):
    mapped = "aaaaaaaa-0000-4000-8000-000000000001"
    unmapped = "aaaaaaaa-0000-4000-8000-000000000002"
    created = nova_seed.apply({
        "services": [{"cell": "cell1", "host": "cmp1"}],
        "compute_nodes": [{"cell": "cell1", "host": "cmp1", "vcpus": 8, "memory_mb": 7841, "local_gb": 100}],
        "host_mappings": [{"cell": "cell1", "host": "cmp1"}],
        "instances": [
            {"cell": "cell1", "uuid": mapped, "host": "cmp1", "project_id": "p1", "user_id": "u1"},
            {"cell": "cell2", "uuid": unmapped, "project_id": "p1", "user_id": "u1", "mapped": False},
        ],
        "migrations": [{"cell": "cell1", "instance_uuid": mapped, "source_compute": "cmp1",
                        "dest_compute": "cmp1", "status": "migrating"}],
    })
    assert [i["uuid"] for i in created["instances"]] == [mapped, unmapped]
    assert clean_lab.nova.manage("cell_v2", "verify_instance", "--uuid", mapped).find("cell1") >= 0
    with pytest.raises(Exception) as err:  # nova-manage exits 1 for an unmapped instance
        clean_lab.nova.manage("cell_v2", "verify_instance", "--uuid", unmapped)
    assert "not mapped" in str(err.value)


def test_reset_restores_the_baseline(nova_seed, clean_lab):
    nova_seed.apply({"host_mappings": [{"cell": "cell1", "host": "cmp9"}]})
    count = "SELECT COUNT(*) FROM nova_api.host_mappings;"
    assert clean_lab.mariadb.sql(count).strip() == "1"
    clean_lab.reset()
    assert clean_lab.mariadb.sql(count).strip() == "0"


def test_lab_up_again_changes_nothing(lab):
    before = dict(lab.pids)
    out = subprocess.run([sys.executable, "-m", "tests.lab", "up"], capture_output=True, text=True,
                         cwd=str(lab.cfg.repo_root), timeout=60, check=True).stdout
    assert "already up" in out
    assert lab.pids == before
