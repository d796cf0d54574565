"""The reference path: the whole lesson in NumPy, to be read in this order."""
