"""One nox session per concern: ``nox -s tests``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.default_venv_backend = "venv"

PYTHONS = ["3.10", "3.11", "3.12"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite with branch coverage (fails under 90%, configured in pyproject.toml)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package and the tests."""
    session.install("-e", ".[test]", "mypy>=1.11")
    session.run("mypy", "sora_async", "tests")


BENCH_PEERS = ("openai[aiohttp]>=1.90", "aiohttp-retry>=2.8", "matplotlib>=3.7")
"""The benchmark-only peers, used until pyproject.toml has a ``bench`` dependency group."""


def _bench_requirements() -> tuple[str, ...]:
    """The ``bench`` dependency group of pyproject.toml when it exists, else ``BENCH_PEERS``."""
    pyproject = nox.project.load_toml("pyproject.toml")
    if "bench" in pyproject.get("dependency-groups", {}):
        return nox.project.dependency_groups(pyproject, "bench")
    return BENCH_PEERS


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite, printed, written to benchmarks/results/ and rendered into docs/benchmarks.md.

    ``nox -s bench -- --quick`` for smaller runs, ``nox -s bench -- --only throughput`` for one section.
    """
    session.install("-e", ".", *_bench_requirements())
    session.run("python", "-m", "benchmarks", *session.posargs)
