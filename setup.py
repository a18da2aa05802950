"""Builds the optional C accelerator for the record-batch codec.

It is optional: without a compiler logway falls back to the pure-Python codec,
which produces the same bytes (tests check both agree).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "logway._speedups",
            sources=["src/logway/_speedups.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
