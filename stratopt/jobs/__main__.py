"""``python -m stratopt.jobs``: ready the process, then run the worker."""

import sys

from stratopt.jobs._startup import prepare_process
from stratopt.startup import exit_without_collecting

prepare_process()

from stratopt.jobs.worker import main  # noqa: E402  (numba's cache must be in place first)

status = main()
exit_without_collecting()
sys.exit(status)
