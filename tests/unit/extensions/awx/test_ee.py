# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""extensions/awx/ee/execution-environment.yml through `ansible-builder create` (offline: the schema and the build
context, no image; tests/integration/test_awx_ee.py builds the image and runs a job in it): the collection tarball
`make build` makes is in the context where the galaxy stage installs it from, with the dependency files
ansible-builder introspects."""

import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

from .awx_rules import repo_root

ROOT = repo_root()
EE = ROOT / 'extensions' / 'awx' / 'ee' / 'execution-environment.yml'


def test_ansible_builder_create_stages_the_collection(tmp_path):
    version = yaml.safe_load((ROOT / 'galaxy.yml').read_text())['version']
    tarball = f'openstack_ops-runbooks-{version}.tar.gz'
    definition = yaml.safe_load(EE.read_text())
    assert definition['version'] == 3
    assert definition['additional_build_files'][0]['src'].endswith(f'/.build/dist/{tarball}')   # galaxy.yml's version
    assert definition['dependencies']['galaxy']['collections'][0]['name'].endswith(f'/{tarball}')

    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / 'ansible-galaxy'), 'collection', 'build', '--force', '--output-path',
                    str(ROOT / '.build' / 'dist'), str(ROOT)], check=True, capture_output=True, timeout=300)
    context = tmp_path / 'context'
    subprocess.run([str(bin_dir / 'ansible-builder'), 'create', '-f', str(EE), '-c', str(context),
                    # named: ansible-builder picks Dockerfile when podman is not (yet) installed
                    '--output-filename', 'Containerfile'], check=True,
                   capture_output=True, timeout=300)

    containerfile = (context / 'Containerfile').read_text()
    assert 'ARG PKGMGR="/usr/bin/apt-get"' in containerfile and 'ARG PKGMGR_PRESERVE_CACHE="always"' in containerfile
    assert 'COPY _build/collections/ /tmp/openstack_ops/' in containerfile
    # pip in the build reads only the wheels tests/ee/image.py fetched on the host (make ee)
    assert 'ENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels' in containerfile
    assert definition['additional_build_files'][1] == {'src': '../../../.build/ee/wheels', 'dest': 'wheels'}
    assert f'ARG EE_BASE_IMAGE="{definition["images"]["base_image"]["name"]}"' in containerfile
    requirements = yaml.safe_load((context / '_build' / 'requirements.yml').read_text())
    assert requirements['collections'] == [{'name': f'/tmp/openstack_ops/{tarball}', 'type': 'file'}]
    with tarfile.open(context / '_build' / 'collections' / tarball) as staged:
        names = set(staged.getnames())
    assert {'meta/execution-environment.yml', 'requirements.txt', 'bindep.txt', 'playbooks/clean_placement.yml',
            'plugins/modules/nova_conductor_ping.py'} <= names
    assert not [name for name in names if name.startswith(('extensions/', 'tests/'))]
