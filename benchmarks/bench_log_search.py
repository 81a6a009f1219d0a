"""log_search's search of one host's logs vs `LC_ALL=C grep -F` over the same files (the floor), on generated
nova logs (BENCH_LOG_MB, default 300 MB, in three files: a plain one, a rotated one and a gzipped one) where the
request searched for has a few dozen lines. Also the Python fallback (no grep) against the same floor.

The lab is not used: the logs are generated into a temporary directory.
"""
import gzip
import os
import shutil
import subprocess
import tempfile

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import log_records, log_search

from benchmarks.harness import compare

TERM = 'req-a35bfb7b-6330-4c88-9d65-1f507921044c'
CTX = '72b83991e28f4ad7899edb062a5f58df e4c1e5be90884260a4a374b8cc650e13 - - default default'


def _write(path, megabytes, every=200_000):
    line = 0
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'wt', encoding='utf-8') as stream:
        written = 0
        while written < megabytes * 1_000_000:
            request = TERM if line % every == 0 else f'req-{line:08d}-6330-4c88-9d65-1f507921044c'
            text = (f'2026-12-03 13:{line // 60000 % 60:02d}:{line // 1000 % 60:02d}.{line % 1000:03d} 15368 DEBUG '
                    f'nova.api.openstack.wsgi [None {request} {CTX}] Action: \'create\', calling method: <bound '
                    f'method ServersController.create of <object at 0x7f{line:08x}>> _process_stack\n')
            stream.write(text)
            written += len(text)
            line += 1


def run(_lab):
    megabytes = int(os.environ.get('BENCH_LOG_MB', '300'))
    work = tempfile.mkdtemp(prefix='bench-log-search-')
    directory = os.path.join(work, 'nova')
    os.makedirs(directory)
    files = [os.path.join(directory, name) for name in ('nova-api.log', 'nova-api.log.1', 'nova-api.log.2.gz')]
    for path in files:
        _write(path, megabytes // 3)
    tz = log_records.log_timezone('UTC')

    def ours(use_grep):
        return lambda: log_search.Search('ctl1', [TERM], [], None, None, tz, 100000, 100, use_grep).run(files)

    def peer():
        found = 0
        for path in files:
            reader = f'gzip -dc {path} | ' if path.endswith('.gz') else ''
            command = f"{reader}LC_ALL=C grep -F -e {TERM} {'' if reader else path}"
            found += len(subprocess.run(command, shell=True, capture_output=True, check=False).stdout.splitlines())
        return found

    def same(search, lines):
        assert search.matched == lines, f'{search.matched} records, {lines} lines'

    try:
        return [compare('log_search_grep', megabytes, ours(True), 'LC_ALL=C grep -F (gzip -dc for .gz)', peer,
                        runs=3, check=same),
                compare('log_search_python', megabytes, ours(False), 'LC_ALL=C grep -F (gzip -dc for .gz)', peer,
                        runs=3, check=same)]
    finally:
        shutil.rmtree(work)
