"""The house rules that keep the code readable: app.py talks to shop/ only, and what the
evaluation measures is what the app serves (the same factory, the same configuration)."""

from __future__ import annotations

import argparse
import ast
import sys

from tests.conftest import REPO


def test_app_imports_only_shop_gradio_and_the_standard_library():
    tree = ast.parse((REPO / "app.py").read_text())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
    modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    ours = {m for m in modules if m.split(".")[0] not in sys.stdlib_module_names and m != "__future__"}
    assert ours and all(m == "gradio" or m.startswith("shop.") for m in ours), ours


def test_the_evaluated_assistant_is_the_served_one(tiny_catalog, tiny_encoder_spec, tmp_path):
    """The same flags give the same configuration and an identically configured assistant."""
    from chat.factory import open_assistant
    from evaluation.options import add_retriever_options, assistant_config
    from retrieval.catalog import load_catalog
    from shop.settings import parse_settings

    flags = ["--catalog", str(tiny_catalog), "--encoder", tiny_encoder_spec, "--llm", "rules",
             "--index-dir", str(tmp_path / "index")]
    parser = argparse.ArgumentParser()
    for name in ("--catalog", "--encoder", "--llm", "--gallery"):
        parser.add_argument(name)
    add_retriever_options(parser)
    evaluated_config = assistant_config(parser.parse_args(flags), "rules")
    catalog = load_catalog(tiny_catalog)
    served_config = parse_settings(flags, environ={}).assistant_config(catalog)
    assert {**vars(served_config), "catalog": None} == {**vars(evaluated_config), "catalog": None}

    served, evaluated = open_assistant(served_config, progress=False), open_assistant(evaluated_config, progress=False)
    for assistant in (served, evaluated):
        assert assistant.rewriter.matcher.vocabulary == served.retriever.matcher.vocabulary
    assert served.retriever.settings == evaluated.retriever.settings
    assert served.retriever.description_columns == evaluated.retriever.description_columns
    assert type(served.rewriter) is type(evaluated.rewriter)
