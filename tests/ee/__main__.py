"""`python -m tests.ee [--rebuild]`: build the execution environment (see tests/ee/image.py); prints its tag."""
import sys

from .image import main

sys.exit(main(sys.argv[1:]))
