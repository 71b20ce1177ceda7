"""jobstep: a FunctionGraph step that queries a Huawei Cloud asynchronous job once."""

__version__ = "0.1.0"
