"""nova_conf through the real `ansible` CLI, with the nova installed in this virtualenv checking every setting."""
import os
import sys

from tests.integration.ansible_runner import run_module

NOVA_CONF = """\
# nova.conf, written by hand
[DEFAULT]
#block_device_allocate_retries = 60
block_device_allocate_retries = 3
transport_url = rabbit://nova:secret@ctl1:5672,
    nova:secret@ctl2:5672/

[database]
connection = mysql+pymysql://nova:secret@db/nova
# sized for 3 controllers
max_pool_size = 5
"""
SEED = [
    {"option": "block_device_allocate_retries", "value": 10},
    {"option": "block_device_allocate_retries_interval", "value": 10},
    {"section": "database", "option": "max_pool_size", "value": 10},
]


def nova_conf(tmp_path):
    path = tmp_path / "nova.conf"
    path.write_text(NOVA_CONF)
    os.chmod(path, 0o640)
    return path


def test_check_mode_shows_the_change_and_a_run_makes_it_once_with_a_backup(tmp_path):
    path = nova_conf(tmp_path)
    args = dict(path=str(path), settings=SEED, nova_python=sys.executable)

    planned = run_module("nova_conf", args, check=True, diff=True)
    assert planned["changed"] is True and path.read_text() == NOVA_CONF and len(list(tmp_path.iterdir())) == 1
    assert "+block_device_allocate_retries_interval = 10" in planned["diff"]["after"].replace("\n", "\n+")
    assert planned["changed_settings"] == ["[DEFAULT] block_device_allocate_retries",
                                           "[DEFAULT] block_device_allocate_retries_interval",
                                           "[database] max_pool_size"]
    assert planned["services"] == ["nova-api", "nova-metadata", "nova-conductor", "nova-scheduler", "nova-compute",
                                   "nova-novncproxy", "nova-serialproxy", "nova-spicehtml5proxy"]
    assert planned["nova_version"]

    done = run_module("nova_conf", args)
    assert done["changed"] is True and done["changed_settings"] == planned["changed_settings"]
    # changed in place; the missing one after the section's last option (and its continuation lines)
    assert path.read_text() == NOVA_CONF.replace(
        "block_device_allocate_retries = 3\n", "block_device_allocate_retries = 10\n").replace(
        "ctl2:5672/\n", "ctl2:5672/\nblock_device_allocate_retries_interval = 10\n").replace(
        "max_pool_size = 5", "max_pool_size = 10")
    # the diff is the file with the URL passwords masked, the continued host's too
    assert planned["diff"]["after"] == path.read_text().replace("nova:secret@", "nova:********@")
    assert oct(path.stat().st_mode & 0o777) == "0o640"   # the file keeps its mode
    assert open(done["backup_file"], encoding="utf-8").read() == NOVA_CONF

    again = run_module("nova_conf", args)
    assert again["changed"] is False and again["changed_settings"] == [] and "backup_file" not in again


def test_settings_no_service_of_the_host_reads_are_left_out(tmp_path):
    path = nova_conf(tmp_path)
    done = run_module("nova_conf", dict(path=str(path), settings=SEED, services_here=["nova-api", "nova-conductor"]))
    assert done["changed_settings"] == ["[database] max_pool_size"]
    assert [s["skipped"] for s in done["settings"]] == [True, True, False]
    assert "block_device_allocate_retries = 3\n" in path.read_text()


def test_nova_itself_refuses_an_unknown_option_and_a_value_its_type_refuses(tmp_path):
    path = nova_conf(tmp_path)
    failed = run_module("nova_conf", dict(path=str(path), nova_python=sys.executable, settings=[
        {"section": "filter_scheduler", "option": "host_subset_sise", "value": 3},
        {"section": "api", "option": "max_limit", "value": "plenty", "services": ["nova-api"]},
        {"option": "block_device_allocate_retries", "value": 10}]))
    assert failed["failed"] is True
    assert "[filter_scheduler] host_subset_sise is not an option of nova" in failed["msg"]
    assert "did you mean host_subset_size?" in failed["msg"]
    assert "[api] max_limit: nova" in failed["msg"] and "refuses 'plenty'" in failed["msg"]
    assert path.read_text() == NOVA_CONF and len(list(tmp_path.iterdir())) == 1


def test_a_missing_file_is_a_wrong_path_and_nothing_is_created(tmp_path):
    failed = run_module("nova_conf", dict(path=str(tmp_path / "nova.conf"), settings=SEED))
    assert failed["failed"] is True and failed["msg"].startswith(f"{tmp_path / 'nova.conf'} does not exist")
    assert list(tmp_path.iterdir()) == []


def test_kolla_overrides_per_service_and_a_second_run_changes_nothing(tmp_path):
    # 200 x 3 s: longer than nova's 180 s (10 x 10 s would be shorter, and refused)
    settings = [{"option": "block_device_allocate_retries", "value": 200},
                {"option": "block_device_allocate_retries_interval", "value": 3}] + SEED[2:] + [
        {"option": "rpc_response_timeout", "value": 90}]
    done = run_module("nova_conf", dict(kolla_config_dir=str(tmp_path), settings=settings), diff=True)
    assert done["changed"] is True
    assert (tmp_path / "nova.conf").read_text() == "[DEFAULT]\nrpc_response_timeout = 90\n"
    assert (tmp_path / "nova" / "nova-compute.conf").read_text() == (
        "[DEFAULT]\nblock_device_allocate_retries = 200\nblock_device_allocate_retries_interval = 3\n")
    assert (tmp_path / "nova" / "nova-conductor.conf").read_text() == "[database]\nmax_pool_size = 10\n"
    assert (tmp_path / "nova" / "nova-super-conductor.conf").exists()
    assert not (tmp_path / "nova" / "nova-compute.conf").read_text().count("max_pool_size")
    assert len(done["diff"]) == len(done["files"]) == 10   # nova.conf and 9 service files
    assert {oct(path.stat().st_mode & 0o777) for path in tmp_path.rglob("*.conf")} == {"0o640"}   # new: 0640
    assert run_module("nova_conf", dict(kolla_config_dir=str(tmp_path), settings=settings))["changed"] is False


def test_kolla_mode_needs_the_config_directory(tmp_path):
    failed = run_module("nova_conf", dict(kolla_config_dir=str(tmp_path / "config"), settings=SEED))
    assert failed["failed"] is True and "is not a directory" in failed["msg"]
    assert list(tmp_path.iterdir()) == []


def test_the_block_device_wait_is_lengthened_never_shortened_unless_allowed(tmp_path):
    """Seed 002: nova-compute gave up on Cinder too early. Totals in force come from the file or the installed nova."""
    plain = tmp_path / "nova.conf"
    plain.write_text("[DEFAULT]\ndebug = false\n")
    longer = tmp_path / "longer.conf"
    longer.write_text("[DEFAULT]\nblock_device_allocate_retries = 100\nblock_device_allocate_retries_interval = 10\n")
    ensure = dict(ensure_waits={"block_device_allocate": 600}, nova_python=sys.executable)

    lengthened = run_module("nova_conf", dict(ensure, path=str(plain)))
    left = run_module("nova_conf", dict(ensure, path=str(longer)))
    refused = run_module("nova_conf", dict(path=str(plain), settings=SEED[:2], nova_python=sys.executable))

    assert lengthened["changed"] is True and "block_device_allocate_retries = 200\n" in plain.read_text()
    [wait] = lengthened["waits"]
    assert (wait["before"]["total"], wait["before"]["source"], wait["after"]["total"]) == (180, "default", 600)
    assert left["changed"] is False and left["waits"][0]["after"]["total"] == 1000
    assert "block_device_allocate_retries = 100\n" in longer.read_text()
    assert refused.get("failed") and "from 600 s (200 x 3 s, partly nova's default) to 100 s (10 x 10 s)" in refused["msg"]
    assert "block_device_allocate_retries = 200\n" in plain.read_text()   # nothing was changed
