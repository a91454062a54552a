"""Builds bottleneck-client: generates the v1 stubs (generate_stubs.py) into the wheel.

The metadata is in pyproject.toml; this file only adds the stub generation to build_py.
"""
import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_stubs  # noqa: E402  (next to this file, not installed)


class BuildWithStubs(build_py):
    """build_py, then protoc + grpc_python_plugin into build_lib/bottleneck_client/_proto."""

    def run(self):
        super().run()
        if not self.dry_run:
            generate_stubs.generate(generate_stubs.find_proto_dir(),
                                    os.path.join(self.build_lib, "bottleneck_client"))


setup(cmdclass={"build_py": BuildWithStubs})
