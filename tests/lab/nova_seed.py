"""Seed nova's databases through nova's own objects API (run in a subprocess: nova is heavy).

Usage: python -m tests.lab.nova_seed NOVA_CONF < spec.json > result.json

The spec is a JSON object of lists, applied in this order; every entry names its cell:
  services        {cell, host, binary="nova-compute", topic="compute"}
  compute_nodes   {cell, host, uuid?, vcpus, memory_mb, local_gb, hypervisor_hostname=host}
  host_mappings   {cell, host}
  instances       {cell, uuid?, host?, node?, project_id, user_id, vm_state="active",
                   task_state=None, flavor={vcpus, memory_mb, root_gb, ephemeral_gb, swap, extra_specs, name},
                   created_at?, mapped=True, deleted=False, image_ref=LAB_IMAGE,
                   boot_from_volume=False (no image_ref and a root block device mapping to a volume)}
  build_requests  {uuid?, project_id, user_id, flavor?, created_at?}  (instance mapping without cell)
  migrations      {cell, instance_uuid, source_compute, dest_compute, status, migration_type="migration"}
The result maps each list to what was created (uuids and database ids).
"""
import datetime
import json
import sys

from oslo_utils import uuidutils

# The image every seeded instance boots from unless it boots from a volume: an instance with no image_ref and no
# root block device mapping is volume-backed to nova (compute.utils.is_volume_backed_instance).
LAB_IMAGE = "6e1a1a9c-4b7d-4d36-9c4f-1ab0b0c0ffee"


def _setup(conf):
    from nova import config, objects  # pylint: disable=import-outside-toplevel
    config.parse_args(["nova_seed", "--config-file", conf])
    objects.register_all()


def flavor_root(spec):
    return (spec.get("flavor") or {}).get("root_gb", 10)


def _when(value):
    return datetime.datetime.fromisoformat(value).replace(tzinfo=datetime.timezone.utc) if value else None


class Seeder:
    def __init__(self):
        from nova import context, objects  # pylint: disable=import-outside-toplevel
        from nova.network import model  # pylint: disable=import-outside-toplevel
        self.context, self.objects, self.network_model = context, objects, model
        self.admin = context.get_admin_context()
        self.cells = {cell.name: cell for cell in objects.CellMappingList.get_all(self.admin)}
        self.node_ids = {}

    def cell(self, name):
        if name not in self.cells:
            raise SystemExit(f"nova_seed: no cell named {name!r}; cells: {sorted(self.cells)}")
        return self.cells[name]

    def in_cell(self, name):
        return self.context.target_cell(self.admin, self.cell(name))

    def service(self, spec):
        with self.in_cell(spec["cell"]) as cctxt:
            svc = self.objects.Service(cctxt, host=spec["host"], binary=spec.get("binary", "nova-compute"),
                                       topic=spec.get("topic", "compute"), report_count=0)
            svc.create()
            return {"host": svc.host, "id": svc.id, "uuid": svc.uuid}

    def compute_node(self, spec):
        with self.in_cell(spec["cell"]) as cctxt:
            node = self.objects.ComputeNode(
                cctxt, host=spec["host"], hypervisor_hostname=spec.get("hypervisor_hostname", spec["host"]),
                uuid=spec.get("uuid") or uuidutils.generate_uuid(),
                vcpus=spec["vcpus"], memory_mb=spec["memory_mb"], local_gb=spec["local_gb"],
                vcpus_used=0, memory_mb_used=0, local_gb_used=0,
                hypervisor_type="QEMU", hypervisor_version=8002000, cpu_info="{}",
                cpu_allocation_ratio=spec.get("cpu_allocation_ratio", 16.0),
                ram_allocation_ratio=spec.get("ram_allocation_ratio", 1.5),
                disk_allocation_ratio=spec.get("disk_allocation_ratio", 1.0))
            node.create()
            self.node_ids[(spec["cell"], node.hypervisor_hostname)] = node.id
            return {"host": node.host, "id": node.id, "uuid": node.uuid}

    def host_mapping(self, spec):
        mapping = self.objects.HostMapping(self.admin, host=spec["host"], cell_mapping=self.cell(spec["cell"]))
        mapping.create()
        return {"host": mapping.host, "id": mapping.id}

    def _flavor(self, spec):
        flavor = spec.get("flavor") or {}
        return self.objects.Flavor(
            id=1, flavorid=flavor.get("name", "m1.small"), name=flavor.get("name", "m1.small"),
            vcpus=flavor.get("vcpus", 1), memory_mb=flavor.get("memory_mb", 1024),
            root_gb=flavor.get("root_gb", 10), ephemeral_gb=flavor.get("ephemeral_gb", 0), swap=flavor.get("swap", 0),
            rxtx_factor=1.0, vcpu_weight=0, disabled=False, is_public=True,
            extra_specs=flavor.get("extra_specs", {}), description=None)

    def _instance(self, ctxt, spec):
        node = spec.get("node", spec.get("host"))
        inst = self.objects.Instance(
            ctxt, uuid=spec.get("uuid") or uuidutils.generate_uuid(),
            project_id=spec["project_id"], user_id=spec["user_id"],
            vm_state=spec.get("vm_state", "active"), task_state=spec.get("task_state"),
            power_state=1, host=spec.get("host"), node=node,
            compute_id=self.node_ids.get((spec.get("cell"), node)) if node else None,
            display_name=spec.get("name", "lab-instance"), flavor=self._flavor(spec),
            image_ref="" if spec.get("boot_from_volume") else spec.get("image_ref", LAB_IMAGE),
            instance_type_id=1, vcpus=self._flavor(spec).vcpus, memory_mb=self._flavor(spec).memory_mb,
            root_gb=self._flavor(spec).root_gb,
            info_cache=self.objects.InstanceInfoCache(network_info=self.network_model.NetworkInfo()))
        if spec.get("created_at"):
            inst.created_at = _when(spec["created_at"])
        return inst

    def instance(self, spec):
        with self.in_cell(spec["cell"]) as cctxt:
            inst = self._instance(cctxt, spec)
            inst.create()
            if spec.get("boot_from_volume"):
                self.objects.BlockDeviceMapping(
                    cctxt, instance_uuid=inst.uuid, boot_index=0, source_type="volume", destination_type="volume",
                    device_name="/dev/vda", volume_id=uuidutils.generate_uuid(), delete_on_termination=False,
                    volume_size=flavor_root(spec)).create()
            if spec.get("mapped", True):
                self.objects.InstanceMapping(
                    self.admin, instance_uuid=inst.uuid, cell_mapping=self.cell(spec["cell"]),
                    project_id=inst.project_id, user_id=inst.user_id).create()
            created = {"uuid": inst.uuid, "id": inst.id}
            if spec.get("deleted"):
                inst.destroy()
            return created

    def build_request(self, spec):
        inst = self._instance(self.admin, dict(spec, host=None))
        self.objects.InstanceMapping(self.admin, instance_uuid=inst.uuid, cell_mapping=None,
                                     project_id=inst.project_id, user_id=inst.user_id).create()
        request = self.objects.BuildRequest(
            self.admin, instance=inst, instance_uuid=inst.uuid, project_id=inst.project_id,
            block_device_mappings=self.objects.BlockDeviceMappingList(), tags=self.objects.TagList())
        request.create()
        return {"uuid": inst.uuid, "id": request.id}

    def migration(self, spec):
        with self.in_cell(spec["cell"]) as cctxt:
            migration = self.objects.Migration(
                cctxt, instance_uuid=spec["instance_uuid"], migration_type=spec.get("migration_type", "migration"),
                source_compute=spec["source_compute"], dest_compute=spec["dest_compute"],
                source_node=spec["source_compute"], dest_node=spec["dest_compute"],
                dest_compute_id=self.node_ids.get((spec["cell"], spec["dest_compute"])),
                status=spec["status"], uuid=uuidutils.generate_uuid())
            migration.create()
            return {"uuid": migration.uuid, "id": migration.id}


ORDER = (("services", "service"), ("compute_nodes", "compute_node"), ("host_mappings", "host_mapping"),
         ("instances", "instance"), ("build_requests", "build_request"), ("migrations", "migration"))


def main():
    _setup(sys.argv[1])
    spec = json.load(sys.stdin)
    unknown = set(spec) - {key for key, _method in ORDER}
    if unknown:
        raise SystemExit(f"nova_seed: unknown spec keys {sorted(unknown)}")
    seeder = Seeder()
    # Known compute nodes (seeded by an earlier call) let instances and migrations find compute ids.
    for cell_name in seeder.cells:
        with seeder.in_cell(cell_name) as cctxt:
            for node in seeder.objects.ComputeNodeList.get_all(cctxt):
                seeder.node_ids[(cell_name, node.hypervisor_hostname)] = node.id
    result = {key: [getattr(seeder, method)(item) for item in spec.get(key, [])] for key, method in ORDER}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
