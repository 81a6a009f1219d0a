"""A deterministic corpus of nova logs in their real formats for the log search and trace benchmarks.

Three hosts (ctl1..ctl3), each with kolla's layout ``<host>/nova/nova-{api,scheduler,conductor,compute}.log``
plus a rotated ``.log.1`` and a gzipped ``.log.2.gz``: three days, the oldest gzipped. The lines are oslo.log's
(nova 2023+: ``[<global request id> <request id> <user> <project> - default default]``, periodic tasks with
``[None req-... - - - - - -]``), the messages those services write (request log, filter chain, claims, locks,
periodic tasks). ctl1 carries half of the volume (the API node most clients reach).

One request is planted: a boot on day 1 (so in the gzipped files): nova-api on ctl2 (request A, global
request G from the client), nova-conductor on ctl1, nova-scheduler on ctl3 with its own request S (global A),
nova-compute on ctl3; and on day 3 (the current files) a GET of the server on ctl1's API (request P) and a
power-state sync on ctl3's compute (request Q). Starting from the instance UUID, a trace finds A, G, S, P, Q in
its first round and nothing new in its second. Every other id is derived from the line number and cannot
contain one of those.

The corpus is written once per size into a cache directory outside the repository (BENCH_CACHE_DIR, by default
``~/.cache/openstack_ops-runbooks``) and reused.
"""
import datetime
import gzip
import os
import pathlib
import shutil

FORMAT = 3   # bump when the lines change: the cache directory's name carries it
HOSTS = {"ctl1": 0.5, "ctl2": 0.25, "ctl3": 0.25}
SERVICES = {"nova-api": 0.4, "nova-scheduler": 0.2, "nova-conductor": 0.15, "nova-compute": 0.25}
# oldest first: (suffix, share of the service's volume, day)
FILES = ((".log.2.gz", 0.15, 1), (".log.1", 0.25, 2), (".log", 0.6, 3))
FIRST_DAY = datetime.datetime(2026, 11, 28)

INSTANCE = "c2963f0d-370c-43aa-8cee-0131760d6ef2"
GLOBAL = "req-b2812170-f81b-46a7-8199-246d65eb693a"
API_REQUEST = "req-a35bfb7b-6330-4c88-9d65-1f507921044c"
SCHEDULER_REQUEST = "req-49530488-2149-4f15-85ea-5659267ffada"
GET_REQUEST = "req-999c856a-e2b6-4360-9fba-3bf8db6e283f"
SYNC_REQUEST = "req-7a578ff5-2e78-410b-8168-5219efa84f9b"
FIRST_ROUND = [INSTANCE]
SECOND_ROUND = sorted([API_REQUEST, GLOBAL, SCHEDULER_REQUEST, GET_REQUEST, SYNC_REQUEST])
USER, PROJECT = "72b83991e28f4ad7899edb062a5f58df", "e4c1e5be90884260a4a374b8cc650e13"
PY = "/usr/lib/python3/dist-packages"


def cache_root():
    return pathlib.Path(os.environ.get("BENCH_CACHE_DIR") or pathlib.Path.home() / ".cache" / "openstack_ops-runbooks")


def _uuid(number, salt):
    # 8a1e / 9b2f in the fourth group: never one of the planted ids
    value = (number * 2654435761 + salt * 40503) & 0xFFFFFFFFFFFF
    return f"{value & 0xFFFFFFFF:08x}-{value >> 32 & 0xFFFF:04x}-4{number & 0xFFF:03x}-{'8a1e' if salt & 1 else '9b2f'}-{value:012x}"


def _ctx(number, salt, global_id="None"):
    return f"{global_id} req-{_uuid(number // 7, salt)} {USER} {PROJECT} - default default"


def _periodic(number, salt):
    return f"None req-{_uuid(number // 40, salt)} - - - - - -"


def _noise(service, host, number):
    """One line's text after the level: the logger, context and message a busy service writes."""
    pick = number % 8
    ctx = _ctx(number, 1)
    uuid = _uuid(number // 3, 3)
    if service == "nova-api":
        if pick in (0, 4):
            return (f"INFO nova.api.openstack.requestlog [{ctx}] 10.0.{number % 7}.{number % 250 + 2} "
                    f"\"GET /v2.1/servers/detail?all_tenants=True&limit=100\" status: 200 len: {1400 + number % 900} "
                    f"microversion: 2.{number % 96} time: 0.{number % 999983:06d}")
        if pick in (1, 5):
            return (f"DEBUG nova.api.openstack.wsgi [{ctx}] Calling method '<bound method ServersController.detail "
                    f"of <nova.api.openstack.compute.servers.ServersController object at 0x7f{number:010x}>>' "
                    f"_process_stack {PY}/nova/api/openstack/wsgi.py:516")
        if pick == 2:
            return (f"DEBUG nova.compute.api [{ctx}] [instance: {uuid}] Fetching instance by UUID get "
                    f"{PY}/nova/compute/api.py:2968")
        if pick == 3:
            return (f"INFO nova.api.openstack.requestlog [{ctx}] 10.0.{number % 7}.{number % 250 + 2} "
                    f"\"GET /v2.1/servers/{uuid}\" status: 200 len: {1800 + number % 700} microversion: 2.{number % 96}"
                    f" time: 0.{number % 999979:06d}")
        return (f"DEBUG oslo_concurrency.lockutils [{ctx}] Acquiring lock \"{_uuid(number % 3, 5)}\" by "
                f"\"nova.context.set_target_cell.<locals>.get_or_set_cached_cell_and_set_connections\" inner "
                f"{PY}/oslo_concurrency/lockutils.py:404")
    if service == "nova-scheduler":
        if pick == 0:
            return (f"DEBUG nova.scheduler.manager [{ctx}] Starting to schedule for instances: ['{uuid}'] "
                    f"select_destinations {PY}/nova/scheduler/manager.py:141")
        if pick in (1, 2, 3):
            name = ("ComputeFilter", "ComputeCapabilitiesFilter", "ImagePropertiesFilter")[pick - 1]
            return (f"DEBUG nova.filters [{ctx}] Filter {name} returned {3 + number % 40} host(s) "
                    f"get_filtered_objects {PY}/nova/filters.py:102")
        if pick == 4:
            return (f"DEBUG nova.scheduler.request_filter [{ctx}] Request filter 'map_az_to_placement_aggregate' took "
                    f"0.0 seconds wrapper {PY}/nova/scheduler/request_filter.py:47")
        if pick == 5:
            return (f"DEBUG oslo_service.periodic_task [{_periodic(number, 7)}] Running periodic task "
                    f"SchedulerManager._discover_hosts_in_cells run_periodic_tasks {PY}/oslo_service/periodic_task.py:210")
        return (f"DEBUG nova.scheduler.host_manager [{ctx}] Update host state with service dict: {{'id': {number % 97}, "
                f"'host': 'cmp{number % 40}', 'binary': 'nova-compute', 'topic': 'compute', 'report_count': {number}, "
                f"'disabled': False, 'forced_down': False}} _locked_update {PY}/nova/scheduler/host_manager.py:178")
    if service == "nova-conductor":
        if pick in (0, 1):
            return (f"DEBUG nova.conductor.manager [{ctx}] [instance: {uuid}] block_device_mapping "
                    f"[BlockDeviceMapping(boot_index=0,source_type='image',destination_type='local',"
                    f"image_id={_uuid(number % 11, 9)},volume_size=None)] _create_block_device_mapping "
                    f"{PY}/nova/conductor/manager.py:1608")
        if pick in (2, 3):
            return (f"DEBUG oslo_concurrency.lockutils [{ctx}] Lock \"{_uuid(number % 3, 5)}\" \"released\" by "
                    f"\"nova.context.set_target_cell.<locals>.get_or_set_cached_cell_and_set_connections\" :: held "
                    f"0.00{number % 10}s inner {PY}/oslo_concurrency/lockutils.py:423")
        if pick == 4:
            return (f"DEBUG oslo_messaging._drivers.amqpdriver [{ctx}] CAST unique_id: {number:032x} exchange 'nova' "
                    f"topic 'compute.cmp{number % 40}' _send {PY}/oslo_messaging/_drivers/amqpdriver.py:648")
        if pick == 5:
            return (f"INFO nova.compute.rpcapi [{ctx}] Automatically selected compute RPC version 6.4 from minimum "
                    f"service version 68")
        return (f"DEBUG nova.conductor.manager [{ctx}] [instance: {uuid}] Selected host: cmp{number % 40}; Selected "
                f"node: cmp{number % 40}; Alternates: [] schedule_and_build_instances {PY}/nova/conductor/manager.py:1547")
    periodic = _periodic(number, 11)
    if pick in (0, 1):
        return (f"DEBUG oslo_service.periodic_task [{periodic}] Running periodic task "
                f"ComputeManager._poll_rebooting_instances run_periodic_tasks {PY}/oslo_service/periodic_task.py:210")
    if pick == 2:
        return (f"DEBUG nova.compute.resource_tracker [{periodic}] Auditing locally available compute resources for "
                f"{host} (node: {host}) update_available_resource {PY}/nova/compute/resource_tracker.py:928")
    if pick == 3:
        return (f"DEBUG oslo_concurrency.lockutils [{periodic}] Lock \"compute_resources\" acquired by "
                f"\"nova.compute.resource_tracker.ResourceTracker._update_available_resource\" :: waited 0.000s inner "
                f"{PY}/oslo_concurrency/lockutils.py:407")
    if pick in (4, 5):
        return (f"DEBUG nova.compute.manager [{periodic}] [instance: {uuid}] Checking state _get_power_state "
                f"{PY}/nova/compute/manager.py:1797")
    if pick == 6:
        return (f"INFO nova.compute.manager [{periodic}] [instance: {uuid}] During sync_power_state the instance has "
                f"a pending task (spawning). Skip.")
    return (f"DEBUG nova.compute.resource_tracker [{periodic}] Hypervisor/Node resource view: name={host} "
            f"free_ram={20000 + number % 4096}MB free_disk={800 + number % 90}GB free_vcpus={number % 64} "
            f"pci_devices=None _report_hypervisor_resource_view {PY}/nova/compute/resource_tracker.py:1103")


def _planted(host, service, day):
    """The planted request's lines for this file, as (level and the rest) texts, in order."""
    api = f"{GLOBAL} {API_REQUEST} {USER} {PROJECT} - default default"
    sched = f"{API_REQUEST} {SCHEDULER_REQUEST} {USER} {PROJECT} - default default"
    lines = {
        ("ctl2", "nova-api", 1): [
            f"DEBUG nova.api.openstack.wsgi [{api}] Action: 'create', calling method: <bound method "
            f"ServersController.create of <nova.api.openstack.compute.servers.ServersController object at "
            f"0x7f3c2c5d1d50>>, body: {{\"server\": {{\"name\": \"vm-001\", \"imageRef\": "
            f"\"{_uuid(1, 9)}\", \"flavorRef\": \"1\", \"networks\": \"none\"}}}} _process_stack "
            f"{PY}/nova/api/openstack/wsgi.py:511",
            f"DEBUG nova.compute.api [{api}] Going to run 1 instances... _provision_instances "
            f"{PY}/nova/compute/api.py:1080",
            f"INFO nova.api.openstack.requestlog [{api}] 10.0.0.5 \"POST /v2.1/servers\" status: 202 len: 412 "
            f"microversion: 2.95 time: 0.312007"],
        ("ctl1", "nova-conductor", 1): [
            f"DEBUG nova.conductor.manager [{api}] [instance: {INSTANCE}] Selected host: ctl3; Selected node: ctl3; "
            f"Alternates: [] schedule_and_build_instances {PY}/nova/conductor/manager.py:1547",
            f"DEBUG oslo_messaging._drivers.amqpdriver [{api}] CAST unique_id: 5a1f0c3e9b2d4e7f8a6b1c0d9e8f7a6b "
            f"exchange 'nova' topic 'compute.ctl3' _send {PY}/oslo_messaging/_drivers/amqpdriver.py:648"],
        ("ctl3", "nova-scheduler", 1): [
            f"DEBUG nova.scheduler.manager [{sched}] Starting to schedule for instances: ['{INSTANCE}'] "
            f"select_destinations {PY}/nova/scheduler/manager.py:141",
            f"DEBUG nova.filters [{sched}] Starting with 3 host(s) get_filtered_objects {PY}/nova/filters.py:70",
            f"DEBUG nova.filters [{sched}] Filter ComputeFilter returned 3 host(s) get_filtered_objects "
            f"{PY}/nova/filters.py:102",
            f"DEBUG nova.filters [{sched}] Filter ImagePropertiesFilter returned 2 host(s) get_filtered_objects "
            f"{PY}/nova/filters.py:102",
            f"DEBUG nova.scheduler.manager [{sched}] Weighed [WeighedHost [host: (ctl3, ctl3) ram: 15360MB disk: "
            f"80896MB io_ops: 0 instances: 1, weight: 2.0], WeighedHost [host: (ctl2, ctl2) ram: 7680MB disk: 40448MB "
            f"io_ops: 0 instances: 4, weight: 0.6]] _get_sorted_hosts {PY}/nova/scheduler/manager.py:675",
            f"DEBUG nova.scheduler.manager [{sched}] [instance: {INSTANCE}] Selected host: (ctl3, ctl3) ram: 15360MB "
            f"disk: 80896MB io_ops: 0 instances: 1 _consume_selected_host {PY}/nova/scheduler/manager.py:586"],
        ("ctl3", "nova-compute", 1): [
            f"INFO nova.compute.claims [{api}] [instance: {INSTANCE}] Claim successful on node ctl3",
            f"INFO nova.virt.libvirt.driver [{api}] [instance: {INSTANCE}] Creating image(s)",
            f"INFO nova.compute.manager [{api}] [instance: {INSTANCE}] Took 4.21 seconds to spawn the instance on "
            f"the hypervisor.",
            f"INFO nova.compute.manager [{api}] [instance: {INSTANCE}] Took 5.02 seconds to build instance."],
        ("ctl1", "nova-api", 3): [
            f"DEBUG nova.compute.api [None {GET_REQUEST} {USER} {PROJECT} - default default] [instance: {INSTANCE}] "
            f"Fetching instance by UUID get {PY}/nova/compute/api.py:2968",
            f"INFO nova.api.openstack.requestlog [None {GET_REQUEST} {USER} {PROJECT} - default default] 10.0.0.5 "
            f"\"GET /v2.1/servers/{INSTANCE}\" status: 200 len: 1893 microversion: 2.95 time: 0.081133"],
        ("ctl3", "nova-compute", 3): [
            f"DEBUG oslo_service.periodic_task [None {SYNC_REQUEST} - - - - - -] Running periodic task "
            f"ComputeManager._sync_power_states run_periodic_tasks {PY}/oslo_service/periodic_task.py:210",
            f"DEBUG nova.compute.manager [None {SYNC_REQUEST} - - - - - -] [instance: {INSTANCE}] Checking state "
            f"_get_power_state {PY}/nova/compute/manager.py:1797"],
    }
    return lines.get((host, service, day), [])


def _write(path, host, service, day, size):
    """About `size` bytes of the service's lines over the day; the planted lines at 40 % of it."""
    pid = {"nova-api": 15368, "nova-scheduler": 1069, "nova-conductor": 2211, "nova-compute": 31027}[service]
    planted = _planted(host, service, day)
    planted_at = int(size * 0.4)
    step = datetime.timedelta(milliseconds=max(1, int(86_400_000 * 3 * 250 / max(size, 1))))  # ~250 bytes a line
    start = FIRST_DAY + datetime.timedelta(days=day - 1)
    salt = sum(map(ord, host + service)) * 1000 + day
    temporary = path.with_name(path.name + ".part")
    raw = open(temporary, "wb")  # pylint: disable=consider-using-with
    stream = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) if path.suffix == ".gz" else raw
    written, number, stamp = 0, salt * 10_000_000, start
    with raw, stream:
        while written < size:
            chunk = []
            for _line in range(2000):
                clock = stamp.strftime("%Y-%m-%d %H:%M:%S") + f".{stamp.microsecond // 1000:03d}"
                if planted and written >= planted_at:
                    chunk.extend(f"{clock} {pid} {text}\n" for text in planted)
                    written += sum(len(text) + len(clock) + 8 for text in planted)
                    planted = []
                line = f"{clock} {pid} {_noise(service, host, number)}\n"
                chunk.append(line)
                written += len(line)
                number += 1
                if number % 3 == 0:
                    stamp += step
                if written >= size and not planted:
                    break
            stream.write("".join(chunk).encode())
    temporary.rename(path)
    mtime = (start + datetime.timedelta(days=1)).timestamp()
    os.utime(path, (mtime, mtime))


def corpus(megabytes, log=print):
    """The corpus of `megabytes` MiB (uncompressed), written once: {'root', 'hosts', 'files', 'bytes'}."""
    root = cache_root() / f"bench-logs-v{FORMAT}-{megabytes}MiB"
    done = root / "DONE"
    if not done.exists():
        log(f"writing {megabytes} MiB of nova logs into {root} (once)")
        shutil.rmtree(root, ignore_errors=True)
        total = megabytes * 2**20
        for host, host_share in HOSTS.items():
            for service, service_share in SERVICES.items():
                directory = root / host / "nova"
                directory.mkdir(parents=True, exist_ok=True)
                for suffix, file_share, day in FILES:
                    _write(directory / f"{service}{suffix}", host, service, day,
                           int(total * host_share * service_share * file_share))
        done.write_text("complete\n")
    files = sorted(str(path) for path in root.glob("*/nova/*") if path.is_file())
    return {"root": str(root), "hosts": {host: str(root / host) for host in HOSTS}, "files": files,
            "bytes": sum(_content_size(path) for path in files),
            "disk_bytes": sum(os.path.getsize(path) for path in files)}


def _content_size(path):
    if not path.endswith(".gz"):
        return os.path.getsize(path)
    with open(path, "rb") as stream:   # gzip's trailer: the uncompressed size mod 2**32 (files here are < 4 GiB)
        stream.seek(-4, os.SEEK_END)
        return int.from_bytes(stream.read(4), "little")
