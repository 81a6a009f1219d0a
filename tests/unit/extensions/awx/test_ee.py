# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""extensions/awx/ee/execution-environment.yml through `ansible-builder create` (offline: the schema and the build
context, no image; tests/integration/test_awx_ee.py builds the image and runs a job in it): the collection tarball
`make build` makes is in the context where the galaxy stage installs it from, with the dependency files
ansible-builder introspects. And what keeps the build of tests/ee/image.py offline: the base it names has every
package bindep.txt names for Debian, and podman builds with no network."""

import subprocess
import sys
import tarfile
from pathlib import Path

import yaml
from bindep import depends

from tests.ee import image

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
    # and nothing else fetches: no apt-get update (the base has bindep's packages), ansible-galaxy --offline
    assert 'apt-get update' not in containerfile
    assert 'ARG ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--offline"' in containerfile
    assert definition['additional_build_files'][1] == {'src': '../../../.build/ee/wheels', 'dest': 'wheels'}
    assert f'ARG EE_BASE_IMAGE="{definition["images"]["base_image"]["name"]}"' in containerfile
    requirements = yaml.safe_load((context / '_build' / 'requirements.yml').read_text())
    assert requirements['collections'] == [{'name': f'/tmp/openstack_ops/{tarball}', 'type': 'file'}]
    with tarfile.open(context / '_build' / 'collections' / tarball) as staged:
        names = set(staged.getnames())
    assert {'meta/execution-environment.yml', 'requirements.txt', 'bindep.txt', 'playbooks/clean_placement.yml',
            'plugins/modules/nova_conductor_ping.py'} <= names
    assert not [name for name in names if name.startswith(('extensions/', 'tests/'))]


def test_the_base_has_every_package_bindep_names_for_debian():
    rules = [line.split('#')[0].split() for line in (ROOT / 'bindep.txt').read_text().splitlines()]
    dpkg = {rule[0] for rule in rules if rule and 'platform:dpkg' in ' '.join(rule[1:])}
    assert {'mariadb-client', 'haproxy', 'iproute2'} <= dpkg
    assert image.bindep_packages() == sorted(dpkg)   # and not mariadb or iproute, the rpm names
    assert dpkg | {'python3', 'python3-pip', 'python3-venv'} == set(image.base_packages())


def test_the_platform_is_what_bindep_in_the_image_sees(monkeypatch):
    """Depends.platform_profiles() as bindep runs it in the build, on Debian 12 bookworm."""
    for name, value in {'id': 'debian', 'codename': 'bookworm', 'version': '12', 'name': 'Debian GNU/Linux'}.items():
        monkeypatch.setattr(depends.distro, name, lambda value=value: value)
    monkeypatch.setattr(depends.platform, 'system', lambda: 'Linux')
    assert tuple(depends.Depends('').platform_profiles()) == image.PLATFORM


def test_the_definition_names_the_base_its_packages_make():
    """The base's tag ends in a digest of its packages: a bindep.txt change needs a new name in the definition
    (build() refuses to start without it), and so a base that lacks a package is never reused."""
    assert image.base_image() == image.base_tag()
    assert image.base_tag().startswith('localhost/openstack_ops-ee-base:bookworm-')


def test_podman_builds_with_no_network(tmp_path):
    argv = image.podman_build(tmp_path, 'localhost/openstack_ops-runbooks-ee:0.1.0-x')
    assert argv[:2] == ['podman', 'build'] and '--network=none' in argv and '--pull=never' in argv
    assert argv[-1] == str(tmp_path) and argv[argv.index('-f') + 1] == str(tmp_path / 'Containerfile')
