"""Build of the one C extension, the MEP's kernels (baiseg/postprocess/native/); everything else is in pyproject.toml.

It needs only a C compiler and the Python headers; the build is optional (a machine without a compiler still installs
the package). Without it the MEP (mep.py, merge.py) falls back to its NumPy/OpenCV
code with the same label maps, about 1.7x slower: see docs/SPEED.md.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "baiseg.postprocess._native",
            sources=[f"baiseg/postprocess/native/{f}.c" for f in ("module", "flood", "edt", "regions", "channels")],
            depends=["baiseg/postprocess/native/kernels.h"],
            extra_compile_args=["-O3", "-std=c99", "-Wall", "-Wextra"],
            optional=True,  # no compiler: the package still installs and the MEP uses its NumPy/OpenCV fallback
        )
    ]
)
