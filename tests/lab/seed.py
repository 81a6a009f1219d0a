"""Seeding helpers: Placement through its REST API, nova through nova's objects API."""
import json
import subprocess
import sys
import uuid as uuidlib

from . import process


class PlacementSeed:
    """Resource providers (nested, sharing), custom classes, inventories, traits, allocations."""

    def __init__(self, lab):
        self.api = lab.placement.request

    def resource_class(self, name):
        self.api("PUT", f"/resource_classes/{name}")
        return name

    def provider(self, name, uuid=None, parent=None):
        body = {"name": name, "uuid": uuid or str(uuidlib.uuid4())}
        if parent:
            body["parent_provider_uuid"] = parent
        return self.api("POST", "/resource_providers", body)["uuid"]

    def generation(self, rp_uuid):
        return self.api("GET", f"/resource_providers/{rp_uuid}")["generation"]

    def inventories(self, rp_uuid, inventories):
        """inventories: {CLASS: total} or {CLASS: {total, reserved, allocation_ratio, ...}}."""
        body = {"resource_provider_generation": self.generation(rp_uuid),
                "inventories": {rc: inv if isinstance(inv, dict) else {"total": inv}
                                for rc, inv in inventories.items()}}
        self.api("PUT", f"/resource_providers/{rp_uuid}/inventories", body)

    def traits(self, rp_uuid, traits):
        for trait in traits:
            if trait.startswith("CUSTOM_"):
                self.api("PUT", f"/traits/{trait}")
        self.api("PUT", f"/resource_providers/{rp_uuid}/traits",
                 {"resource_provider_generation": self.generation(rp_uuid), "traits": list(traits)})

    def aggregates(self, rp_uuid, aggregates):
        self.api("PUT", f"/resource_providers/{rp_uuid}/aggregates",
                 {"resource_provider_generation": self.generation(rp_uuid), "aggregates": list(aggregates)})

    def compute_node(self, name, uuid=None, vcpus=8, memory_mb=7841, disk_gb=100,
                     ram_ratio=1.5, cpu_ratio=16.0, reserved_memory_mb=512):
        """A provider shaped like nova-compute reports it (the seed's host: 7841 MB, ratio 1.5)."""
        rp_uuid = self.provider(name, uuid)
        self.inventories(rp_uuid, {
            "VCPU": {"total": vcpus, "allocation_ratio": cpu_ratio},
            "MEMORY_MB": {"total": memory_mb, "reserved": reserved_memory_mb, "allocation_ratio": ram_ratio},
            "DISK_GB": {"total": disk_gb},
        })
        return rp_uuid

    def allocate(self, consumer, allocations, project_id="project-lab", user_id="user-lab",
                 consumer_type="INSTANCE"):
        """allocations: {rp_uuid: {CLASS: amount}}; replaces whatever the consumer held."""
        current = self.api("GET", f"/allocations/{consumer}")
        self.api("PUT", f"/allocations/{consumer}", {
            "allocations": {rp: {"resources": res} for rp, res in allocations.items()},
            "project_id": project_id, "user_id": user_id, "consumer_type": consumer_type,
            "consumer_generation": current.get("consumer_generation"),
        })

    def usages(self, rp_uuid):
        return self.api("GET", f"/resource_providers/{rp_uuid}/usages")["usages"]


class NovaSeed:
    """Batch-create nova rows through nova's objects API (one subprocess per call: imports cost ~3 s)."""

    def __init__(self, lab):
        self.lab = lab

    def apply(self, spec):
        result = subprocess.run(
            [sys.executable, "-W", "ignore", "-m", "tests.lab.nova_seed", str(self.lab.nova.conf)],
            input=json.dumps(spec), capture_output=True, text=True, env=self.lab.nova.env,
            cwd=str(self.lab.cfg.repo_root), check=False)
        if result.returncode:
            raise process.LabError(f"nova seeding failed:\n{result.stderr[-4000:]}")
        return json.loads(result.stdout)
