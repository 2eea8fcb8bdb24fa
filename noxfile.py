"""One nox session per concern: tests, lint, typecheck, docs and bench (run one with ``nox -s NAME``)."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "docs"]
nox.options.default_venv_backend = "venv"

PYTHONS = ["3.10", "3.11", "3.12"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite with branch coverage (fails under 90%, configured in pyproject.toml).

    The docs extra too: the suite checks the docs' own code (the griffe doctest extension, the strict
    site build), as the README's command (``pip install -e ".[dev]"``) does.
    """
    session.install("-e", ".[test,docs]")
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


def _bench_requirements() -> tuple[str, ...]:
    """The ``bench`` dependency group of pyproject.toml: the peers we compare against."""
    return nox.project.dependency_groups(nox.project.load_toml("pyproject.toml"), "bench")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built with --strict so a broken link or reference fails."""
    session.install("-e", ".[docs,cli]")
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite, printed, written to benchmarks/results/ and rendered into docs/benchmarks.md.

    ``nox -s bench -- --quick`` for smaller runs, ``nox -s bench -- --only throughput`` for one section.
    """
    session.install("-e", ".", *_bench_requirements())
    session.run("python", "-m", "benchmarks", *session.posargs)
