"""One local[2] Spark session for every engine test (starting Spark costs ~10 s)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark():
    """The session every Spark test shares; skipped without pyspark or Java."""
    pyspark_sql = pytest.importorskip(
        "pyspark.sql", reason="pyspark is not installed (pip install 'dqaudit[spark]')"
    )
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Java is not installed: Spark needs a JDK 17+")
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("dqaudit-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def both_engines(spark) -> Callable[..., tuple[Any, Any]]:
    """``both_engines(path, **config)``: the file opened by the local and the Spark engine."""
    from dqaudit.api import open_context
    from dqaudit.registry import parse_config

    def open_both(path: Path, **config: Any) -> tuple[Any, Any]:
        local = open_context(path, parse_config(config))
        return local, open_context(str(path), parse_config({"engine": "spark", **config}))

    return open_both
