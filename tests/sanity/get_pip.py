"""Offline stand-in for the get-pip.py that ansible-test --venv downloads.

ansible-test creates each virtualenv without pip and runs a cached copy of
get-pip.py (fetched from ci-files.testing.ansible.com) in it. Where that host
cannot be reached, tests/sanity/run.sh caches this script instead: it installs
the pip bundled with Python (ensurepip), then does what get-pip.py does with
the same arguments.
"""

import ensurepip
import os
import subprocess
import sys

GET_PIP_OPTIONS = ('--no-setuptools', '--no-wheel')


def pip(*args, env):
    subprocess.run([sys.executable, '-m', 'pip'] + list(args), env=env, check=True)


def main():
    # ensurepip points PIP_CONFIG_FILE at /dev/null for its offline install;
    # the installs below must see the machine's pip configuration again.
    environ = dict(os.environ)
    ensurepip.bootstrap()

    packages = [arg for arg in sys.argv[1:] if arg not in GET_PIP_OPTIONS]
    if '--no-wheel' not in sys.argv:
        packages.append('wheel')
    pip('install', *packages, env=environ)
    # ensurepip always installs setuptools; get-pip.py leaves it out on request.
    if '--no-setuptools' in sys.argv:
        pip('uninstall', '--yes', 'setuptools', env=environ)


if __name__ == '__main__':
    main()
