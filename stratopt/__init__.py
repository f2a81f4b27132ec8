"""stratopt: optimize trading-strategy parameters locally or on Kubernetes.

The import package is layered (see ``.importlinter``): ``api`` describes resources,
``data`` and ``backtest`` evaluate one parameter set, ``optimize`` searches, ``runtime``
executes batches, and ``cli`` / ``operator`` sit on top.
"""

__version__ = "0.1.0"
