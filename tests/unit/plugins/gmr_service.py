# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A tiny oslo service for the unit tests: oslo.reports' real Guru Meditation Report handler, no lab.

``start(directory, ...)`` writes it to a file and runs it with a config file (a secret [database] connection, a plain
option, a password-named option oslo.config does not know as secret) and its stderr in a file, optionally with
one forked worker (which inherits the handler, as an oslo.service worker does) and [oslo_reports] options.
"""

import os
import subprocess
import sys
import time

SERVICE = r'''
import os, sys, threading, time
from oslo_config import cfg
from oslo_reports import guru_meditation_report as gmr, opts as gmr_opts
CONF = cfg.CONF
CONF.register_opts([cfg.StrOpt('connection', secret=True), cfg.IntOpt('max_pool_size', default=5),
                    cfg.StrOpt('admin_password')], group='database')
gmr_opts.set_defaults(CONF)
CONF(sys.argv[1:], project='tiny')
class Version:
    def vendor_string(self): return 'Tiny Vendor'
    def product_string(self): return 'Tiny Service'
    def version_string_with_package(self): return '1.2.3'
gmr.TextGuruMeditation.setup_autorun(Version(), service_name='tiny-service', conf=CONF)
def serve_requests():
    while True:
        time.sleep(0.1)
threading.Thread(target=serve_requests, name='rpc', daemon=True).start()
if os.environ.get('TINY_FORK') and os.fork() == 0:
    threading.Thread(target=serve_requests, name='worker-rpc', daemon=True).start()
print('ready', flush=True)
while True:
    time.sleep(0.1)
'''

CONNECTION = 'mysql+pymysql://nova:s3cret-Pw@127.0.0.1/nova'


def start(directory, fork=False, oslo_reports=None, stderr_name='service.err'):
    """(Popen, stderr path): the service, started and ready."""
    conf = os.path.join(directory, 'tiny.conf')
    with open(conf, 'w', encoding='utf-8') as handle:
        handle.write(f'[database]\nconnection = {CONNECTION}\nadmin_password = hunter2\n')
        if oslo_reports:
            handle.write('[oslo_reports]\n' + ''.join(f'{key} = {value}\n' for key, value in oslo_reports.items()))
    script = os.path.join(directory, 'tiny_service.py')
    with open(script, 'w', encoding='utf-8') as handle:
        handle.write(SERVICE)
    err = os.path.join(directory, stderr_name)
    out = os.path.join(directory, 'service.out')
    env = dict(os.environ, TINY_FORK='1' if fork else '')
    with open(err, 'ab') as err_file, open(out, 'ab') as out_file:
        proc = subprocess.Popen([sys.executable, script, '--config-file', conf],  # pylint: disable=consider-using-with
                                stdout=out_file, stderr=err_file, stdin=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(out, encoding='utf-8') as handle:
            if handle.read().count('ready') >= (2 if fork else 1):
                return proc, err
        if proc.poll() is not None:
            raise RuntimeError(f'the tiny service exited: {open(err, encoding="utf-8").read()}')
        time.sleep(0.05)
    raise RuntimeError('the tiny service did not start')


def children(pid):
    with open(f'/proc/{pid}/task/{pid}/children', encoding='ascii') as handle:
        return [int(part) for part in handle.read().split()]


def stop(proc):
    for child in children(proc.pid):
        try:
            os.kill(child, 9)
        except ProcessLookupError:
            pass
    proc.kill()
    proc.wait()
