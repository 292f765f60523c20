"""Map the repository's top-level folders into one import package, ``veriframe``.

Everything else about the distribution is in pyproject.toml. The design keeps ``service/``, ``safety/``,
``provenance/`` and ``migrations/`` at the top of the repository; setuptools' ``package-dir`` installs
them as ``veriframe.service``, ``veriframe.safety``, ... so the wheel has exactly one top-level name.
"""

from setuptools import find_packages, setup

ROOTS = ("service", "safety", "provenance", "migrations")

packages = ["veriframe"]
package_dir = {"veriframe": "veriframe"}
for root in ROOTS:
    package_dir[f"veriframe.{root}"] = root
    packages += [f"veriframe.{root}"] + [f"veriframe.{root}.{sub}" for sub in find_packages(root)]

setup(packages=packages, package_dir=package_dir)
