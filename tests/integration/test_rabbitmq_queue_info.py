"""rabbitmq_queue_info against the lab's real RabbitMQ and the queues real nova-conductors made."""
from urllib.parse import quote

from tests.integration.ansible_runner import run_module
from tests.lab import process
from tests.lab.config import CONTROLLERS, RABBIT_USER


def login(lab):
    return {"login_host": "127.0.0.1", "login_port": lab.cfg.port("rabbitmq_management"),
            "login_user": RABBIT_USER[0], "login_password": RABBIT_USER[1]}


def test_lists_conductor_queues_with_depth_and_consumers(clean_lab):
    # A message piles up on a queue nobody consumes; the conductors' queues each have their consumer.
    queue = f"queues/{quote('/', safe='')}/compute.cmp1"
    clean_lab.rabbitmq.api(queue, "PUT", {"durable": False})
    clean_lab.rabbitmq.api(f"exchanges/{quote('/', safe='')}/amq.default/publish", "POST", {
        "properties": {}, "routing_key": "compute.cmp1", "payload": "{}", "payload_encoding": "string"})
    # A queue just declared has no statistics until the broker's next stats tick (up to 5 s).
    process.wait_until(lambda: clean_lab.rabbitmq.api(queue).get("messages") == 1, 30,
                       "statistics for compute.cmp1")
    result = run_module("rabbitmq_queue_info",
                        dict(login(clean_lab), vhosts=["/"], include=["^conductor", "^compute"], exclude=["_fanout_"]))
    assert result["changed"] is False, result
    by_name = {q["name"]: q for q in result["queues"]}
    assert set(by_name) == {"conductor", "compute.cmp1"} | {f"conductor.{h}" for h in CONTROLLERS}
    assert all(by_name[f"conductor.{h}"]["consumers"] == 1 for h in CONTROLLERS)
    assert by_name["conductor"]["consumers"] == len(CONTROLLERS)
    assert by_name["compute.cmp1"]["consumers"] == 0
    assert result["totals"]["queues"] == len(by_name)


def test_wrong_password_fails_clearly_and_hides_the_password(clean_lab):
    result = run_module("rabbitmq_queue_info", dict(login(clean_lab), login_password="not-the-password"))
    assert result.get("failed") is True
    assert "401" in result["msg"]
    assert "not-the-password" not in str(result)


def test_unreachable_broker_is_named(clean_lab):
    result = run_module("rabbitmq_queue_info", dict(login(clean_lab), login_port=1))
    assert result.get("failed") is True
    assert "Cannot reach the RabbitMQ management API" in result["msg"]
