"""nova_conductor_ping against the lab's real RabbitMQ and real nova-conductor processes (rpc_ping_enabled)."""
import time

from tests.integration.ansible_runner import run_module

STATS_INTERVAL = 6   # RabbitMQ's management statistics trail events by up to 5 s


def connections_created(lab):
    return lab.rabbitmq.api("overview")["churn_rates"]["connection_created"]


def test_a_running_conductor_answers(lab):
    result = run_module("nova_conductor_ping", dict(transport_url=lab.cfg.transport_url(), server="ctl1", timeout=10))

    assert not result.get("failed"), result
    assert result["answered"] is True and result["consumers"] >= 1 and result["attempts"] == 1
    assert result["reply"] is not None and result["error"] is None


def reply_queues(lab):
    return {queue["name"] for queue in lab.rabbitmq.api("queues") if queue["name"].startswith("reply_")}


def test_a_ping_leaves_no_reply_queue_behind(lab):
    """oslo.messaging keeps a client's reply_<id> queue 1800 s after the client is gone; the module's expires."""
    before = reply_queues(lab)

    result = run_module("nova_conductor_ping", dict(transport_url=lab.cfg.transport_url(), server="ctl1", timeout=10))

    assert result["answered"] is True, result
    left, looks = reply_queues(lab) - before, 20
    while left and looks:   # the broker deletes it once unused for 1 s
        time.sleep(0.5)
        left, looks = reply_queues(lab) - before, looks - 1
    assert not left, f"the ping left its reply queue: {left}"


def test_waiting_for_a_server_counts_on_one_broker_connection(lab):
    time.sleep(STATS_INTERVAL)
    before = connections_created(lab)

    result = run_module("nova_conductor_ping", dict(transport_url=lab.cfg.transport_url(), server="no-such-host",
                                                    timeout=5, wait=4))

    assert result["answered"] is False and result["consumers"] == 0 and result["attempts"] == 0
    assert result["error"] == "no consumer on queue conductor.no-such-host"
    assert result["elapsed"] >= 4   # about 8 counts, one every 0.5 s
    time.sleep(STATS_INTERVAL)
    # no RPC call was made, so the only connection is the one that counted (one per count before: 9 here);
    # one more is tolerated for a lab service that reconnects meanwhile
    assert connections_created(lab) - before <= 2
