"""Placement audit: placement_allocation (action=audit) vs `nova-manage placement audit --verbose`.

Both run as their command line tools (`ansible localhost -m ...` and `nova-manage`), end to end, on the
same lab data: providers over two cells, each with live instances, plus orphans doubled on two
providers (the incident's shape). Seeding is not timed. Nova rows are bulk INSERTs copied from rows
nova's objects API made, and Placement's consumer and allocation rows bulk INSERTs copied from a consumer
POST /allocations made (through the APIs, 20,000 consumers take longer than a benchmark run can afford on
this machine: a POST /allocations of 500 consumers timed out after 30 s); compute node uuids equal provider
uuids; providers and inventories go through the Placement API.

Ours runs with the module's default report=problems (the consumers that are not active, which is what
nova-manage --verbose prints) and placement_database=placement: Placement's providers, inventories and
allocations read from its database in one snapshot. Two variants are timed in the same run and recorded next
to it: the same audit through the Placement API (two GETs per provider, ours_api_s, ratio_api), and
report=full (every provider and consumer, ours_full_s, ratio_full). Each record also carries the seeding time and, from MariaDB's
USER_STATISTICS, the SELECTs each tool sent to the databases in one run (every user but `placement`
and `root`: ours reads nova_api and Placement's tables as `ops` and the cells with their mappings' user) and
Placement's own SELECTs (what its API answered with), to show that neither reads Nova per consumer.

The record is named placement_audit_<providers>. OPS_BENCH_PROVIDERS / OPS_BENCH_CONSUMERS / OPS_BENCH_RUNS / OPS_BENCH_FULL_RUNS scale it
(defaults 1000 / 20000 / 3 / 3).
"""
import concurrent.futures
import json
import os
import re
import subprocess
import time
import uuid

import os_resource_classes
import pymysql

from benchmarks.harness import compare, median_seconds
from tests.integration.ansible_runner import run_module
from tests.lab import NovaSeed
from tests.lab.config import CELLS, DB_USERS

PROVIDERS = int(os.environ.get("OPS_BENCH_PROVIDERS", "1000"))
CONSUMERS = int(os.environ.get("OPS_BENCH_CONSUMERS", "20000"))
RUNS = int(os.environ.get("OPS_BENCH_RUNS", "3"))
FULL_RUNS = int(os.environ.get("OPS_BENCH_FULL_RUNS", str(RUNS)))
ORPHAN_SHARE = 50            # one consumer in 50 is an orphan holding allocations on two providers
RESOURCES = {"VCPU": 1, "MEMORY_MB": 256, "DISK_GB": 1}


def _db(lab, database):
    user = "placement" if database == "placement" else "nova"
    return pymysql.connect(host="127.0.0.1", port=lab.cfg.port("mariadb"), user=user,
                           password=DB_USERS[user], database=database, autocommit=True)


def _copy_rows(connection, table, template_where, rows):
    """Insert one copy of the template row per entry of rows (dicts of columns to change)."""
    with connection.cursor(pymysql.cursors.DictCursor) as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE {template_where} LIMIT 1")
        template = cursor.fetchone()
        template.pop("id", None)
        columns = list(template)
        sql = (f"INSERT INTO {table} ({', '.join(f'`{c}`' for c in columns)}) "
               f"VALUES ({', '.join(['%s'] * len(columns))})")
        for start in range(0, len(rows), 1000):
            cursor.executemany(sql, [[dict(template, **row)[c] for c in columns] for row in rows[start:start + 1000]])


def _seed(lab):
    api = lab.placement.request
    hosts = [f"bench{i:04d}" for i in range(PROVIDERS)]
    rps = {host: str(uuid.uuid4()) for host in hosts}

    def provider(host):
        api("POST", "/resource_providers", {"name": host, "uuid": rps[host]})
        api("PUT", f"/resource_providers/{rps[host]}/inventories", {"resource_provider_generation": 0, "inventories": {
            "VCPU": {"total": 64, "allocation_ratio": 16.0}, "MEMORY_MB": {"total": 262144},
            "DISK_GB": {"total": 10000}}})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(provider, hosts))

    # One compute node and one instance per cell through nova's objects, then copies of those rows.
    cell_of = {host: CELLS[i % len(CELLS)] for i, host in enumerate(hosts)}
    templates = {cell: f"template-{cell}" for cell in CELLS}
    made = NovaSeed(lab).apply({
        "compute_nodes": [{"cell": cell, "host": templates[cell], "vcpus": 64, "memory_mb": 262144,
                           "local_gb": 10000} for cell in CELLS],
        "instances": [{"cell": cell, "host": templates[cell], "project_id": "p", "user_id": "u"} for cell in CELLS],
    })
    instance_template = {cell: made["instances"][i]["uuid"] for i, cell in enumerate(CELLS)}

    consumers, live = {}, {cell: [] for cell in CELLS}
    for n in range(CONSUMERS):
        host = hosts[n % PROVIDERS]
        consumer = str(uuid.uuid4())
        if n % ORPHAN_SHARE == 0:
            consumers[consumer] = {rps[host]: RESOURCES, rps[hosts[(n + 1) % PROVIDERS]]: RESOURCES}
        else:
            consumers[consumer] = {rps[host]: RESOURCES}
            live[cell_of[host]].append((consumer, host))
    for cell in CELLS:
        with _db(lab, f"nova_{cell}") as cell_db:
            _copy_rows(cell_db, "compute_nodes", f"host = '{templates[cell]}'", [
                {"uuid": rps[host], "host": host, "hypervisor_hostname": host}
                for host in hosts if cell_of[host] == cell])
            _copy_rows(cell_db, "instances", f"uuid = '{instance_template[cell]}'", [
                {"uuid": consumer, "host": host, "node": host, "compute_id": None} for consumer, host in live[cell]])
        with _db(lab, "nova_api") as api_db:
            _copy_rows(api_db, "instance_mappings", f"instance_uuid = '{instance_template[cell]}'",
                       [{"instance_uuid": consumer} for consumer, _host in live[cell]])
    _allocate(lab, rps, consumers)
    _analyze(lab)
    orphans = {(c, rp) for c, allocations in consumers.items() if len(allocations) == 2 for rp in allocations}
    return orphans


def _analyze(lab):
    """Fresh index statistics for the tables the bulk INSERTs filled, as a cloud's long-lived tables have.

    Without it MariaDB plans with the statistics of near-empty tables for minutes; both tools then run several
    times slower (nova-manage measured 132 s instead of 28 s), which says nothing about either.
    """
    tables = {"placement": "allocations, consumers, resource_providers, inventories",
              "nova_api": "instance_mappings, build_requests"}
    tables.update({f"nova_{cell}": "instances, compute_nodes, migrations" for cell in CELLS})
    for database, names in tables.items():
        lab.mariadb.sql(f"ANALYZE TABLE {names};", database)


def _allocate(lab, rps, consumers):
    """One consumer through POST /allocations, then copies of its placement rows for all the others."""
    api = lab.placement.request
    template, first = next(iter(consumers.items()))
    api("POST", "/allocations", {template: {
        "allocations": {rp: {"resources": res} for rp, res in first.items()},
        "project_id": "p", "user_id": "u", "consumer_generation": None, "consumer_type": "INSTANCE"}})
    with _db(lab, "placement") as db, db.cursor(pymysql.cursors.DictCursor) as cursor:
        cursor.execute("SELECT id, uuid FROM resource_providers")
        rp_ids = {row["uuid"]: row["id"] for row in cursor.fetchall()}
        rest = [(consumer, allocations) for consumer, allocations in consumers.items() if consumer != template]
        _copy_rows(db, "consumers", f"uuid = '{template}'", [{"uuid": consumer} for consumer, _a in rest])
        class_ids = {name: os_resource_classes.STANDARDS.index(name) for name in RESOURCES}
        rows = [(rp_ids[rp], consumer, class_ids[name], amount)
                for consumer, allocations in rest for rp, res in allocations.items() for name, amount in res.items()]
        for start in range(0, len(rows), 5000):
            cursor.executemany("INSERT INTO allocations (resource_provider_id, consumer_id, resource_class_id, used, "
                               "created_at) VALUES (%s, %s, %s, %s, UTC_TIMESTAMP())", rows[start:start + 5000])


def _selects(lab):
    """SELECTs sent per database user since the last call (MariaDB's USER_STATISTICS, reset each time)."""
    rows = lab.mariadb.sql("SELECT USER, SELECT_COMMANDS FROM information_schema.USER_STATISTICS; "
                           "FLUSH USER_STATISTICS;")
    return {user: int(count) for user, count in (line.split("\t") for line in rows.splitlines())}


def run(lab):
    started = time.perf_counter()
    orphans = _seed(lab)
    seeding_s = time.perf_counter() - started
    args = dict(cloud="opslab", nova_db=dict(
        login_host="127.0.0.1", login_port=lab.cfg.port("mariadb"), login_user="ops", login_password=DB_USERS["ops"]))
    env = {"OS_CLIENT_CONFIG_FILE": str(lab.cfg.path("clouds.yaml"))}

    def audit(report, source="database"):
        extra = dict(placement_database="placement") if source == "database" else {}
        result = run_module("placement_allocation", dict(args, report=report, **extra), env=env)
        assert not result.get("failed"), result.get("msg")
        return {(c["uuid"], a["provider_uuid"]) for c in result["audit"]["consumers"] for a in c["allocations"]
                if a["classification"] == "orphan"}

    def ours():
        return audit("problems")

    def peer():
        proc = subprocess.run([lab.cfg.bin("nova-manage"), "--config-file", str(lab.nova.conf), "placement", "audit",
                               "--verbose"], capture_output=True, text=True, env=lab.nova.env, check=False)
        assert proc.returncode in (0, 3), proc.stderr[-2000:]
        return set(re.findall(r"consumer UUID (\S+) on Resource Provider (\S+) can be deleted", proc.stdout))

    lab.mariadb.sql("SET GLOBAL userstat = 1; FLUSH USER_STATISTICS;")
    selects = {}

    def same(ours_result, peer_result):
        assert ours_result == peer_result == orphans, (
            f"ours {len(ours_result)}, nova-manage {len(peer_result)}, seeded {len(orphans)} orphan allocations")

    def counted(name, action):
        """action, counting the SELECTs of its first call (the untimed check) only."""
        def wrapped():
            if name in selects:
                return action()
            _selects(lab)
            result = action()
            selects[name] = _selects(lab)
            return result
        return wrapped

    record = compare(f"placement_audit_{PROVIDERS}", PROVIDERS, counted("ours", ours), "nova-manage placement audit --verbose",
                     counted("peer", peer), runs=RUNS, check=same)
    assert audit("full") == orphans
    full_s, full_samples = median_seconds(lambda: audit("full"), FULL_RUNS)
    assert audit("problems", "api") == orphans
    api_s, api_samples = median_seconds(lambda: audit("problems", "api"), FULL_RUNS)
    record.update(
        consumers=CONSUMERS, cells=len(CELLS), report="problems", placement_source="database",
        ours_api_s=round(api_s, 6), ours_api_samples=[round(s, 6) for s in api_samples],
        ratio_api=round(record["peer_s"] / api_s, 2),
        ours_full_s=round(full_s, 6), ours_full_samples=[round(s, 6) for s in full_samples],
        ratio_full=round(record["peer_s"] / full_s, 2),
        nova_selects={side: sum(n for user, n in counts.items() if user not in ("placement", "root"))
                      for side, counts in selects.items()},
        placement_db_selects={side: counts.get("placement", 0) for side, counts in selects.items()},
        seeding_s=round(seeding_s, 1),
        load_average=list(os.getloadavg()),
        seeding=("nova rows and placement consumers/allocations: bulk INSERT copies of rows made by nova "
                 "objects and by POST /allocations; providers and inventories: Placement API"))
    print(json.dumps({k: record[k] for k in ("name", "n", "consumers", "ours_s", "peer_s", "ratio", "ours_api_s",
                                             "ratio_api", "ours_full_s", "ratio_full", "nova_selects", "seeding_s",
                                             "load_average")}), flush=True)
    return [record]
