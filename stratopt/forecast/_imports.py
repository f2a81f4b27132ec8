"""TensorFlow, imported only when a forecast runs, with an error that says what to do."""

from __future__ import annotations

from types import ModuleType


def import_tensorflow() -> ModuleType:
    """The ``tensorflow`` module.

    Raises:
        ImportError: TensorFlow is not installed; the message names the extra to install.
    """
    try:
        import tensorflow
    except ImportError as exc:
        raise ImportError(
            "ForecastRun needs TensorFlow, which is not installed: "
            "pip install 'stratopt[forecast]' (or tensorflow on a GPU machine)"
        ) from exc
    module: ModuleType = tensorflow
    return module
