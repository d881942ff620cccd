"""Serving a deployed model: loading it from a target (`loader`), checking requests
(`inputs`), the Open Inference Protocol (V2) HTTP app (`app`), the background prediction
log (`predlog`), Prometheus metrics (`metrics`) and the server's settings (`settings`).

Only this package and `steps/` load models: `loader` is the one seam to `ml.model_io`
(see the import contracts in pyproject.toml).
"""
