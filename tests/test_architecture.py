"""The house rules that keep the engine reusable: core/ is plain Python with no UI."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import ROOT


def test_core_never_imports_streamlit():
    for path in (ROOT / "core").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "streamlit" or n.startswith("streamlit.") for n in names), path
    # and importing the whole public API does not pull it in indirectly
    code = "import sys, core, core.cli, core.simulator; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_the_public_api_is_listed_in_all():
    import core

    for name in core.__all__:
        assert hasattr(core, name), name


def test_process_wide_objects_have_one_holder_in_core(tmp_path, monkeypatch):
    """The runner and the store are core's (get_runner, get_store); no page caches its own."""
    import core

    cached = []
    for path in [ROOT / "app.py", *(ROOT / "app_pages").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any("cache_resource" in ast.unparse(d) for d in node.decorator_list):
                cached.append((path.name, node.name, ast.unparse(node.returns) if node.returns else None))
    # The one st.cache_resource is a once-per-process guard around a core call, holding a count.
    assert cached == [("common.py", "_follow_stored_batches", "int")], cached
    assert core.get_runner() is core.get_runner()
    monkeypatch.setenv("LLM_BATCH_DATA_DIR", str(tmp_path / "data"))
    assert core.get_store() is core.get_store()
    assert core.get_store().data_dir == (tmp_path / "data").resolve()


def test_only_the_store_touches_its_connections_and_transactions():
    """batch_store and compare_store write through RunStore's public `transaction()` and read
    through `connection`, not its private helpers: the store can change how it connects."""
    private = ("._conn(", "._tx(", "._in_tx(", "._tx_many(", "_result_statements", "import RowResult, RunStore, _now", "_now,")
    for path in (ROOT / "core").glob("*.py"):
        if path.name == "store.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert not [p for p in private if p in text], path
