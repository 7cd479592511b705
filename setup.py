"""Builds the one compiled part of the package: the MPR's reslice kernels
(viewer/volume/reslice_kernels.c), a plain C shared library that viewer/volume/reslice_kernels.py
loads with ctypes. Everything else about the package is in pyproject.toml; this file exists
because only a setup script can choose compiler flags per compiler.

It is built as an extension module file (viewer/volume/_reslice_kernels.<ABI tag>.so / .pyd) so
that `pip install -e .`, wheels and sdists place it beside the package like any extension, but it
uses no Python API: it exports its kernels, not a PyInit function.

Other platforms: Linux x86-64 gets an AVX2 clone of each kernel beside the baseline
(target_clones, resolved by the dynamic linker); MSVC (Windows) and Mach-O (macOS) have no such
clones and build the baseline only (SSE2 / NEON): correct, somewhat slower; a Windows build needs
the MSVC build tools, a macOS one the Xcode command-line tools. A frozen bundle (PyInstaller)
does not see the library as an import: add it as a binary at viewer/volume/.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# -O3 vectorises the inner loops; no -march=native (a wheel or bundle runs on other CPUs: the
# source asks for an AVX2 clone beside the baseline itself). No fast-math, and no contraction
# into FMA, so that results match an independent resampler to float rounding on every CPU.
GCC_FLAGS = ["-O3", "-std=c99", "-ffp-contract=off", "-fno-math-errno", "-fvisibility=hidden"]
MSVC_FLAGS = ["/O2", "/fp:precise"]


class BuildKernels(build_ext):
    """build_ext for a plain C library: flags per compiler, and no PyInit_ export (MSVC would
    otherwise fail to link a module that defines none)."""

    def build_extensions(self) -> None:
        flags = MSVC_FLAGS if self.compiler.compiler_type == "msvc" else GCC_FLAGS
        for extension in self.extensions:
            extension.extra_compile_args = [*flags, *extension.extra_compile_args]
        super().build_extensions()

    def get_export_symbols(self, ext: Extension) -> list[str]:
        return list(ext.export_symbols or [])


setup(
    ext_modules=[
        Extension(
            "viewer.volume._reslice_kernels",
            sources=["viewer/volume/reslice_kernels.c"],
            depends=["viewer/volume/reslice_kernels_body.h"],
        )
    ],
    cmdclass={"build_ext": BuildKernels},
)
