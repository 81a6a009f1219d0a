"""The AWX/AAP execution environment of `make ee` (extensions/awx/ee/execution-environment.yml), built offline."""
