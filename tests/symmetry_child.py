"""The child process of tests/test_serde_symmetry.py:

    python -m tests.symmetry_child COMMAND KIND TARGET THREAD [args...]

runs ``tests.symmetry_app.run`` (see there). The application lives in a
module of its own so that its classes are named ``tests.symmetry_app:...`` as
in any process that imports it, not ``__main__:...``.
"""

import sys

from tests.symmetry_app import run

if __name__ == "__main__":
    run(*sys.argv[1:])
