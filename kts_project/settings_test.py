"""The test suite's settings: the development configuration (``DJANGO_DEBUG=1`` unless the
environment says otherwise), since ``kts_project.settings`` fails closed without it. Set in
the environment, so the processes the tests start (a cluster, a second exchange) get it too.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from kts_project.settings import *  # noqa: E402, F403
