"""The controller lab: three podman containers ctl1..ctl3 with systemd as PID 1 (see README)."""
