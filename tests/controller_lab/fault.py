"""Break the controller lab like the incident of seed 003.

The conductors' DB connections are cut under them (the MariaDB forwarder goes away, so every pooled
connection is closed and new ones are refused) long enough for them to log errors; then they hang
(SIGSTOP: they keep their RabbitMQ consumers but answer nothing) while stale messages pile up in
`conductor` (real oslo.messaging casts), in `compute.*` and in orphaned `reply_*` queues; then the DB
comes back, but the conductors stay stuck, as they did in the incident.
"""
import time
import uuid

import kombu
import oslo_messaging
from oslo_config import cfg

from tests.lab.config import CONTROLLERS

STALE_CASTS = 40
STALE_COMPUTE_HOSTS = ("cmp1", "cmp2")
STALE_REPLY_QUEUES = 3
DB_OUTAGE_SECONDS = 15


def break_like_the_incident(lab, log=print):
    log(f"cutting the conductors' DB connections for {DB_OUTAGE_SECONDS}s")
    lab.cut_db()
    time.sleep(DB_OUTAGE_SECONDS)
    lab.hang_conductors()
    log("conductors hung (SIGSTOP); piling stale messages")
    url = lab.services.cfg.transport_url()
    _cast_to_conductors(url)
    _stale_queues(url)
    lab.restore_db()
    log("DB back; the conductors stay stuck")
    return {name: lab.services.queue_consumers(f"conductor.{name}") for name in CONTROLLERS}


def _cast_to_conductors(url):
    conf = cfg.CONF   # oslo.messaging registers its tracing options on the global CONF only
    conf([], project="opsctl-fault")
    transport = oslo_messaging.get_rpc_transport(conf, url=url)
    try:
        client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(exchange="nova", topic="conductor"))
        for index in range(STALE_CASTS):
            client.cast({}, "object_class_action_versions", objname="Instance", objmethod="get_by_uuid",
                        object_versions={}, args=[str(uuid.UUID(int=index))], kwargs={})
    finally:
        transport.cleanup()


def _stale_queues(url):
    with kombu.Connection(url.replace("rabbit://", "amqp://")) as connection:
        nova = kombu.Exchange("nova", type="topic", durable=False)
        with connection.Producer() as producer:
            for host in STALE_COMPUTE_HOSTS:
                queue = kombu.Queue(f"compute.{host}", nova, routing_key=f"compute.{host}", durable=False)
                queue(connection.channel()).declare()
                for _i in range(10):
                    producer.publish({"oslo.message": "{}", "oslo.version": "2.0"}, exchange=nova,
                                     routing_key=f"compute.{host}")
            for _i in range(STALE_REPLY_QUEUES):
                name = f"reply_{uuid.uuid4().hex}"
                kombu.Queue(name, durable=False)(connection.channel()).declare()
                for _i in range(5):
                    producer.publish({"oslo.message": "{}", "oslo.version": "2.0"}, routing_key=name)
