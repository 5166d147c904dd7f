"""Build of the one C extension (the MEP's flood, baiseg/postprocess/_native.c); everything else is in pyproject.toml.

It needs only a C compiler and the Python headers. Without it, ``baiseg.postprocess.mep.flood`` falls back to the
pure Python/OpenCV implementation with the same results (slower): see docs/SPEED.md.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "baiseg.postprocess._native",
            sources=["baiseg/postprocess/_native.c"],
            extra_compile_args=["-O3", "-std=c99", "-Wall", "-Wextra"],
        )
    ]
)
