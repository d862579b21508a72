"""The stub-build oracle: real BuildKit builds of an original and a fixed Dockerfile in a
world where every package manager only checks and logs what it would read.

``image.py`` builds the stub image (the tools live in ``image/``), ``dockerfile.py`` maps a
Dockerfile's images onto it, ``oracle.py`` builds both sides and compares them.
"""
