"""Cells v2 audit of 100,000 instances in two cells: cell_mapping_check vs a `nova-manage cell_v2 verify_instance` loop.

verify_instance checks one instance per process (≈ 3 s of imports each here), so the loop over every instance
would take days: it is timed on a sample and extrapolated, which the record says (`peer_extrapolated_from`).
Ours runs the module's audit code in a fresh Python process, so its time includes the imports and its peak
RSS is that process's; `ours_via_ansible_s` is one run of the whole module through the `ansible` CLI.
Seeding (a few instances through nova's objects, then bulk INSERT ... SELECT) is outside the timing.
"""
import json
import subprocess
import sys
import time

from benchmarks.harness import compare
from tests.integration.ansible_runner import run_module
from tests.lab import NovaSeed
from tests.lab.config import DB_USERS, REPO_ROOT

INSTANCES = 100_000
CELLS = ("cell1", "cell2")
UNMAPPED = 5          # mappings deleted by hand, as in seed 000: the audit must find exactly these
PEER_SAMPLE = 5

AUDIT = """
import json, resource, sys, time
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_db, nova_cells
params = json.loads(sys.argv[1])
started = time.perf_counter()
nova = nova_db.connect(params)
try:
    result = nova_cells.CellAudit(nova).run()
finally:
    nova.close()
print(json.dumps(dict(
    seconds=time.perf_counter() - started,
    max_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    instances=result['summary']['instances'],
    unmapped=sorted(f['instance_uuid'] for f in result['findings'] if f['type'] == 'instance_without_mapping'),
    findings=result['summary']['findings'])))
"""


def _login(lab):
    return dict(login_host="127.0.0.1", login_port=lab.cfg.port("mariadb"), login_user="ops",
                login_password=DB_USERS["ops"], login_db="nova_api", login_unix_socket=None,
                config_file="/nonexistent", connect_timeout=30, ca_cert=None, client_cert=None, client_key=None)


def _seed(lab):
    seed = NovaSeed(lab)
    seed.apply({"services": [{"cell": cell, "host": f"{cell}-cmp"} for cell in CELLS],
                "compute_nodes": [{"cell": cell, "host": f"{cell}-cmp", "vcpus": 64, "memory_mb": 262144,
                                   "local_gb": 4000} for cell in CELLS],
                "host_mappings": [{"cell": cell, "host": f"{cell}-cmp"} for cell in CELLS],
                "instances": [{"cell": cell, "host": f"{cell}-cmp", "project_id": f"bench-{cell}",
                               "user_id": "bench"} for cell in CELLS]})
    columns = list(lab.mariadb.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'nova_cell1' "
        "AND table_name = 'instances' AND column_name NOT IN ('id', 'uuid') ORDER BY ordinal_position").split())
    listed = ", ".join(f"`{c}`" for c in columns)
    per_cell = INSTANCES // len(CELLS)
    for cell in CELLS:
        lab.mariadb.sql(f"""
            INSERT INTO instances ({listed}, uuid)
                SELECT {", ".join(f"t.`{c}`" for c in columns)}, UUID()
                FROM instances t JOIN seq_1_to_{per_cell - 1} WHERE t.id = (SELECT MIN(id) FROM instances);
            INSERT INTO nova_api.instance_mappings (created_at, instance_uuid, cell_id, project_id, user_id,
                                                   queued_for_delete)
                SELECT UTC_TIMESTAMP(), i.uuid, c.id, i.project_id, i.user_id, 0
                FROM instances i JOIN nova_api.cell_mappings c ON c.name = '{cell}'
                LEFT JOIN nova_api.instance_mappings m ON m.instance_uuid = i.uuid
                WHERE m.id IS NULL;
        """, f"nova_{cell}")
    broken = lab.mariadb.sql(f"SELECT instance_uuid FROM instance_mappings ORDER BY id DESC LIMIT {UNMAPPED}",
                             "nova_api").split()
    healthy = lab.mariadb.sql(f"SELECT instance_uuid FROM instance_mappings ORDER BY id LIMIT "
                              f"{PEER_SAMPLE - 2}", "nova_api").split()
    lab.mariadb.sql(f"DELETE FROM instance_mappings WHERE instance_uuid IN ({', '.join(repr(u) for u in broken)})",
                    "nova_api")
    return sorted(broken), healthy + broken[:2]


def run(lab):
    lab.reset()
    try:
        broken, sample = _seed(lab)
        root = REPO_ROOT / ".build" / "collections"
        last = {}

        def ours():
            out = subprocess.run([sys.executable, "-c", AUDIT, json.dumps(_login(lab))], capture_output=True,
                                 text=True, check=True, env={"PYTHONPATH": str(root)}).stdout
            last.update(json.loads(out))
            return last["unmapped"]

        def peer():
            codes = {}
            for uuid in sample:
                codes[uuid] = subprocess.run(
                    [lab.cfg.bin("nova-manage"), "--config-file", str(lab.nova.conf), "cell_v2", "verify_instance",
                     "--uuid", uuid, "--quiet"], env=lab.nova.env, capture_output=True, check=False).returncode
            return codes

        def same(ours_result, peer_result):
            assert ours_result == broken, "the audit did not find exactly the deleted mappings"
            assert last["instances"] == INSTANCES, last
            expected = {uuid: 1 if uuid in broken else 0 for uuid in sample}
            assert peer_result == expected, f"verify_instance disagrees: {peer_result} vs {expected}"

        record = compare("cell_audit", INSTANCES, ours, "nova-manage cell_v2 verify_instance loop", peer, runs=3,
                         check=same)
        per_instance = record["peer_s"] / PEER_SAMPLE
        started = time.perf_counter()
        via_ansible = run_module("cell_mapping_check", {k: v for k, v in _login(lab).items() if v is not None})
        assert via_ansible["summary"]["instance_without_mapping"] == UNMAPPED, via_ansible.get("msg")
        record.update(
            peer_s=round(per_instance * INSTANCES, 3),
            ratio=round(per_instance * INSTANCES / record["ours_s"], 1),
            peer_extrapolated_from=PEER_SAMPLE,
            peer_sample_s=round(record["peer_s"], 3),
            peer_per_instance_s=round(per_instance, 4),
            ours_max_rss_mib=round(last["max_rss_kib"] / 1024, 1),
            ours_audit_only_s=round(last["seconds"], 3),
            ours_via_ansible_s=round(time.perf_counter() - started, 3),
        )
        return [record]
    finally:
        lab.reset()
