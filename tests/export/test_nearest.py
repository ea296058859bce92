from types import SimpleNamespace

import pytest

from promptsearch.errors import UserError
from promptsearch.export.source import scored_template


def test_per_input_demos_have_no_static_prompt_to_export():
    record = SimpleNamespace(name="s", task={})
    row = SimpleNamespace(params={"demo_selection": "nearest"}, prompt="", prompt_hash="x" * 32)
    with pytest.raises(UserError, match=r"picks its demonstrations per input.*--format json"):
        scored_template(record, row)
