"""Where the lab lives: one state directory, one block of loopback ports, fixed credentials."""
import dataclasses
import os
import pathlib
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
CONTROLLERS = ("ctl1", "ctl2", "ctl3")
CELLS = ("cell1", "cell2")
CELL_VHOSTS = {"cell1": "", "cell2": "cell2"}

# Port offsets from OPS_LAB_PORT_BASE; the names are the ones error messages show.
PORT_OFFSETS = {
    "mariadb": 0,
    "amqp": 1,
    "rabbitmq_management": 2,
    "rabbitmq_dist": 3,
    "epmd": 4,
    "placement": 5,
    # the cloud profile's API services
    "keystone": 6,
    "glance": 7,
    "nova_api": 8,
    "neutron": 9,
}

# Lab-only credentials: never used outside the lab's loopback services.
DB_USERS = {
    "nova": "nova-lab-secret",
    "placement": "placement-lab-secret",
    "keystone": "keystone-lab-secret",
    "glance": "glance-lab-secret",
    "neutron": "neutron-lab-secret",
    "ops": "ops-lab-secret",   # what the collection's modules log in as in tests
}
RABBIT_USER = ("openstack", "rabbit-lab-secret")


@dataclasses.dataclass(frozen=True)
class LabConfig:
    state_dir: pathlib.Path
    port_base: int
    venv_bin: pathlib.Path

    @classmethod
    def from_env(cls, dir_var="OPS_LAB_DIR", default_dir=".lab", port_var="OPS_LAB_PORT_BASE",
                 default_port_base=25600):
        state_dir = pathlib.Path(os.environ.get(dir_var, REPO_ROOT / default_dir)).resolve()
        port_base = int(os.environ.get(port_var, str(default_port_base)))
        # The venv of the interpreter running us holds nova, placement and gunicorn.
        return cls(state_dir=state_dir, port_base=port_base,
                   venv_bin=pathlib.Path(sys.executable).parent)

    @property
    def repo_root(self):
        return REPO_ROOT

    def port(self, name):
        return self.port_base + PORT_OFFSETS[name]

    @property
    def ports(self):
        return {name: self.port(name) for name in PORT_OFFSETS}

    def path(self, *parts):
        return self.state_dir.joinpath(*parts)

    def bin(self, name):
        return str(self.venv_bin / name)

    # --- connection strings the lab hands to nova, placement and tests ---
    def db_url(self, database, user="nova"):
        return (f"mysql+pymysql://{user}:{DB_USERS[user]}@127.0.0.1:{self.port('mariadb')}"
                f"/{database}?charset=utf8")

    def transport_url(self, vhost=""):
        """cell1 and the conductors use vhost '/', cell2 its own vhost (cells need distinct URLs)."""
        user, password = RABBIT_USER
        return f"rabbit://{user}:{password}@127.0.0.1:{self.port('amqp')}/{vhost}"

    @property
    def placement_endpoint(self):
        return f"http://127.0.0.1:{self.port('placement')}"

    @property
    def mysql_socket(self):
        return str(self.path("mariadb", "mysqld.sock"))
