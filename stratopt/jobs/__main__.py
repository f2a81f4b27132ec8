"""``python -m stratopt.jobs``: ready the process, then run the worker."""

import gc
import sys

from stratopt.jobs._startup import prepare_process

prepare_process()

from stratopt.jobs.worker import main  # noqa: E402  (numba's cache must be in place first)

status = main()
# Left to itself the interpreter's exit collects every object that numba and pydantic
# made (about 0.25 s of each pod's life); the exit frees them.
gc.freeze()
sys.exit(status)
