"""The autonomous training container (`python -m training_image`).

Importing the package is cheap: the web imports `contract` and `detection` only, and the
heavy ML stack is imported inside the modules that need it.
"""
