"""The floor of the rabbitmq_purge benchmark, as a process of its own: a bare keep-alive HTTP DELETE loop.

`python bare_purge_loop.py ARGS_FILE`, where ARGS_FILE is JSON with host, port, user, password and names
(queues of vhost "/"). One connection, one DELETE .../contents per queue, nothing else: no listing, no
selection, no error handling beyond the status check. It pays what any Python program that purges those
queues pays (interpreter start-up, http.client, the loop), so it compares like for like with the module,
which Ansible also runs as a Python process. Prints {"loop_s": seconds spent in the loop}.
"""
import base64
import http.client
import json
import sys
import time
from urllib.parse import quote


def main(args_file):
    with open(args_file, encoding="utf-8") as handle:
        args = json.load(handle)
    started = time.perf_counter()
    token = base64.b64encode(f"{args['user']}:{args['password']}".encode()).decode()
    keep_alive = http.client.HTTPConnection(args["host"], args["port"], timeout=30)
    for name in args["names"]:
        keep_alive.request("DELETE", f"/api/queues/%2F/{quote(name, safe='')}/contents",
                           headers={"Authorization": f"Basic {token}"})
        response = keep_alive.getresponse()
        response.read()
        if response.status != 204:
            raise SystemExit(f"DELETE {name}: HTTP {response.status}")
    keep_alive.close()
    print(json.dumps({"loop_s": round(time.perf_counter() - started, 6)}))


if __name__ == "__main__":
    main(sys.argv[1])
