"""Where writes through haproxy land: `python -m tests.galera_lab writes N [NODE]`.

N new connections through the haproxy of NODE (default gal1, on 127.0.0.1:13306, as a service on that controller
connects), each inserting one row and reading back the node that served it and the rows it sees. The nodes'
`wsrep_local_commits` (transactions committed by a client of that node, not replicated in) are read before and after,
so the answer says per node how many writes it took. The account and table are made on first use.
"""
import json

from .lab import HAPROXY_PORT, NODES, ROOT_PASSWORD, WRITER

SETUP = (f"CREATE DATABASE IF NOT EXISTS {WRITER}; "
         f"CREATE TABLE IF NOT EXISTS {WRITER}.t (id INT AUTO_INCREMENT PRIMARY KEY, via VARCHAR(16)) ENGINE=InnoDB; "
         f"CREATE USER IF NOT EXISTS '{WRITER}'@'%' IDENTIFIED BY '{ROOT_PASSWORD}'; "
         f"GRANT ALL ON {WRITER}.* TO '{WRITER}'@'%'")

# Runs on the node with its python3-pymysql: one connection per write, as many clients of a cloud make.
CLIENT = """
import json, sys, pymysql
served, rows = {}, None
for _ in range(int(sys.argv[1])):
    conn = pymysql.connect(host='127.0.0.1', port=%(port)d, user='%(user)s', password='%(password)s',
                           database='%(user)s', autocommit=True, connect_timeout=5)
    with conn.cursor() as cur:
        cur.execute('INSERT INTO t (via) VALUES (%%s)', (sys.argv[2],))
        cur.execute('SELECT @@hostname, COUNT(*) FROM t')
        host, rows = cur.fetchone()
    conn.close()
    served[host] = served.get(host, 0) + 1
print(json.dumps(dict(served=served, rows=rows)))
""" % dict(port=HAPROXY_PORT, user=WRITER, password=ROOT_PASSWORD)


def commits(lab):
    return {name: int(lab.sql(name, "SHOW GLOBAL STATUS LIKE 'wsrep_local_commits'").split()[1]) for name in NODES}


def run(lab, count, via=NODES[0]):
    lab.sql(NODES[0], SETUP)
    before = commits(lab)
    result = json.loads(lab.exec(via, "python3", "-c", CLIENT, str(count), via).stdout)
    after = commits(lab)
    total = int(lab.sql(NODES[0], f"SELECT COUNT(*) FROM {WRITER}.t").strip())
    return dict(via=via, connections=count, served=result["served"], last_read_rows=result["rows"],
                commits={name: after[name] - before[name] for name in NODES}, rows=total)
