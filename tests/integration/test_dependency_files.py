"""A bare virtualenv made only from requirements.txt (plus ansible-core, which runs the modules) imports every
module of the collection and every library they import, lazily imported ones included: what a user who follows the
README's Install section, or ansible-builder, gets. Needs PyPI (pip's cache makes it ~20 s); no service."""
import json
import subprocess
import venv

from tests.lab.config import REPO_ROOT
from tests.unit.test_dependency_files import third_party_imports   # the same scan of the plugins' imports

COLLECTIONS = REPO_ROOT / ".build" / "collections"
IMPORT_ALL = """
import importlib, json, pathlib, sys
root = pathlib.Path(sys.argv[1])
failed, errors = {}, {}
for path in sorted(root.glob('plugins/module_utils/*.py')) + sorted(root.glob('plugins/modules/*.py')):
    name = 'ansible_collections.openstack_ops.runbooks.' + '.'.join(path.with_suffix('').relative_to(root).parts)
    try:
        module = importlib.import_module(name)
    except Exception as error:
        failed[name] = repr(error)
        continue
    for attribute in ('IMPORT_ERROR',) + tuple(a for a in dir(module) if a.endswith('_IMPORT_ERROR')):
        if getattr(module, attribute, None) is not None:
            errors[name + '.' + attribute] = str(getattr(module, attribute))
for library in json.loads(sys.argv[2]):
    try:
        importlib.import_module(library)
    except Exception as error:
        failed[library] = repr(error)
print(json.dumps({'failed': failed, 'import_errors': errors}))
"""


def test_bare_venv_from_requirements_imports_every_module(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    core = next(line for line in (REPO_ROOT / "constraints.txt").read_text().splitlines() if line.startswith("ansible-core=="))
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-c", str(REPO_ROOT / "constraints.txt"), "-r", str(REPO_ROOT / "requirements.txt"), core],
                   check=True, timeout=900)
    root = COLLECTIONS / "ansible_collections" / "openstack_ops" / "runbooks"
    assert (root / "galaxy.yml").exists(), "run tests/bootstrap.sh first (it links .build/collections)"
    libraries = sorted(third_party_imports())
    assert {"openstack", "pymysql", "oslo_messaging", "kombu"} <= set(libraries)
    done = subprocess.run([str(python), "-c", IMPORT_ALL, str(root), json.dumps(libraries)], cwd=tmp_path,
                          env={"PYTHONPATH": str(COLLECTIONS), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"failed": {}, "import_errors": {}}
