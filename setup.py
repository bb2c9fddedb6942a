"""Builds the native order book (src/bftx/exchange/_book.c); everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "bftx.exchange._book",
            sources=["src/bftx/exchange/_book.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Werror"],
        )
    ]
)
