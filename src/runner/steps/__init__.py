"""Built-in pipeline steps: option models and the registry that wires them.

Kept free of pandas and scikit-learn so validation and compile stay fast; the
code that runs a step is in `runner.ml`.
"""
