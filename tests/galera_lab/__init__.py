"""A real three-node Galera cluster (MariaDB + galera-4 from Debian) in podman containers gal1..gal3."""
