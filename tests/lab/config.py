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
}

# Lab-only credentials: never used outside the lab's loopback services.
DB_USERS = {
    "nova": "nova-lab-secret",
    "placement": "placement-lab-secret",
    "ops": "ops-lab-secret",   # what the collection's modules log in as in tests
}
RABBIT_USER = ("openstack", "rabbit-lab-secret")


@dataclasses.dataclass(frozen=True)
class LabConfig:
    state_dir: pathlib.Path
    port_base: int
    venv_bin: pathlib.Path

    @classmethod
    def from_env(cls):
        state_dir = pathlib.Path(os.environ.get("OPS_LAB_DIR", REPO_ROOT / ".lab")).resolve()
        port_base = int(os.environ.get("OPS_LAB_PORT_BASE", "25600"))
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
